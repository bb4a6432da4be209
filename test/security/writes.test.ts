/**
 * Outputs are never half-written: exports into a full disk (a 256 KiB tmpfs), a read-only file system, a path
 * under a file and /proc fail with a typed WRITE_FAILED, leave nothing under the final names (and no temporary
 * files), and the process goes on. Real sharp, ffmpeg and onnxruntime. The tmpfs cases need `mount` (root);
 * where it is refused they are skipped with the reason logged.
 */
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSegmentationFiles, writeSegmentationJsonFiles } from "../../core/export/files";
import type { VideoExportOptions } from "../../core/export/video-files";
import { decodeImage, type RgbImage } from "../../core/image/decode";
import { downloadFile } from "../../core/models/download";
import { Sam3, type SegmentResult } from "../../core/sam3";
import { Sam3VideoPredictor } from "../../core/video/predictor";
import { VideoWriter } from "../../core/export/video-writer";
import { rejection } from "../support/errors";
import { makeVideo, type SyntheticVideo } from "../support/synthetic-video";

const dir = mkdtempSync(join(tmpdir(), "sam3-writes-"));
const CLIP: SyntheticVideo = { width: 320, height: 240, frames: 12, fps: 10 };
const ALL: VideoExportOptions = { overlay: true, json: true, png: true, polygons: true };
const FILLER = "filler.bin";
const mounts: string[] = [];

/** A small tmpfs at `path`, or why it cannot be mounted here. */
function mountTmpfs(path: string, size = "256k"): string | undefined {
  mkdirSync(path, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path], { stdio: "pipe" });
    mounts.push(path);
    return undefined;
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e).trim() || "mount failed";
  }
}

const probe = join(dir, "probe");
const cannotMount = mountTmpfs(probe);
if (cannotMount) console.log(`writes: tmpfs cases skipped, mount is refused here: ${cannotMount}`);

/** Fills a tmpfs until only `leave` bytes (in whole pages) are free. */
function fill(path: string, leave = 0) {
  const free = () => {
    const out = execFileSync("df", ["-B1", "--output=avail", path], { encoding: "utf8" });
    return Number(out.trim().split("\n").pop());
  };
  writeFileSync(join(path, FILLER), Buffer.alloc(Math.max(0, free() - leave)));
  // what the file system keeps for itself may still take a few bytes: top up to the brim when asked for none
  if (!leave) {
    try {
      for (;;) writeFileSync(join(path, `${FILLER}.${Math.random()}`), Buffer.alloc(4096));
    } catch {
      // full
    }
  }
}

/** Every file and folder under `path` but the filler, as relative paths. */
function leftovers(path: string): string[] {
  const out: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = join(folder, entry.name);
      if (entry.name.startsWith(FILLER)) continue;
      out.push(relative(path, full));
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(path);
  return out;
}

let sam: Sam3;
let predictor: Sam3VideoPredictor;
let sessionId: string;
let image: RgbImage;
let result: SegmentResult;

beforeAll(async () => {
  const clip = await makeVideo(join(dir, "clip.mp4"), CLIP);
  // noise does not compress: the overlay PNG is larger than the whole tmpfs
  const noise = Buffer.from(Array.from({ length: 640 * 480 * 3 }, () => Math.floor(Math.random() * 256)));
  image = await decodeImage(await sharp(noise, { raw: { width: 640, height: 480, channels: 3 } }).png().toBuffer());
  sam = await Sam3.open();
  result = await sam.segment(image, { points: [{ x: 320, y: 240 }] });
  predictor = await Sam3VideoPredictor.open({ rules: { presenceThreshold: 0 } });
  const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
  await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [[0.2, 0.35]] });
  await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 2, points: [[0.7, 0.2]] });
  for await (const _ of predictor.handleStreamRequest({ type: "propagate_in_video", session_id }));
  sessionId = session_id;
});

afterAll(async () => {
  await predictor?.close();
  await sam?.close();
  for (const path of mounts.reverse()) execFileSync("umount", ["-l", path]);
  rmSync(dir, { recursive: true, force: true });
});

describe("complete exports", () => {
  it("writes every file under its final name and leaves no temporary file", async () => {
    const out = join(dir, "ok", "nested");
    const files = await predictor.export(sessionId, out, "clip", ALL);
    expect(files.map((f) => relative(out, f)).sort()).toEqual(["clip.frames.jsonl", "clip.masks", "clip.overlay.mp4", "clip.polygons.jsonl"]);
    expect(statSync(join(out, "clip.overlay.mp4")).size).toBeGreaterThan(1000);
    expect(readdirSync(join(out, "clip.masks")).sort()).toEqual(["obj-1", "obj-2"]);
    const still = await writeSegmentationFiles(result, image, { dir: out, stem: "shot", json: true, png: true, polygons: true });
    expect(still.map((f) => relative(out, f)).sort()).toEqual(["shot.json", "shot.mask-1.png", "shot.overlay.png", "shot.polygons.json"]);
    expect(leftovers(out).filter((f) => f.includes(".partial-"))).toEqual([]);
    // a second export replaces the first, PNG folder included
    const frames = readdirSync(join(out, "clip.masks", "obj-1")).sort();
    writeFileSync(join(out, "clip.masks", "stale.png"), "x");
    await predictor.export(sessionId, out, "clip", { png: true });
    expect(readdirSync(join(out, "clip.masks")).sort()).toEqual(["obj-1", "obj-2"]);
    expect(readdirSync(join(out, "clip.masks", "obj-1")).sort()).toEqual(frames);
  });

  it("refuses to export a session without results, writing nothing", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: join(dir, "clip.mp4") });
    const out = join(dir, "empty");
    const e = await rejection(predictor.export(session_id, out, "clip", { json: true, png: true }));
    expect([e.code, e.message]).toEqual(["BAD_REQUEST", "no results to export: add a prompt and propagate first"]);
    expect(existsSync(out)).toBe(false);
    await predictor.handleRequest({ type: "close_session", session_id });
  });
});

describe("file names", () => {
  it("refuses stems that are paths or dot names, writing nothing outside the folder", async () => {
    const out = join(dir, "stems", "inside");
    mkdirSync(out, { recursive: true });
    const json = { image: { width: 4, height: 4 }, model: "m", objects: [] };
    for (const stem of ["../escaped", "a/b", "..", ".", "", "x\\y", "a\0b", "s".repeat(300)]) {
      expect((await rejection(predictor.export(sessionId, out, stem, ALL))).code, stem).toBe("BAD_REQUEST");
      expect((await rejection(writeSegmentationFiles(result, image, { dir: out, stem: stem }))).code, stem).toBe("BAD_REQUEST");
      expect((await rejection(writeSegmentationJsonFiles(json, { dir: out, stem: stem }))).code, stem).toBe("BAD_REQUEST");
    }
    expect(leftovers(join(dir, "stems"))).toEqual(["inside"]);
  });

  it("refuses segmentation JSON with broken masks as BAD_REQUEST", async () => {
    const out = join(dir, "broken-json");
    for (const rle of [undefined, { size: [1e6, 1e6], counts: "" }, { size: [2, 2], counts: "~~~" }, { size: [2, 2], counts: [9, 9] }, { size: "big", counts: "" }]) {
      const json = { image: { width: 2, height: 2 }, model: "m", objects: [{ id: 1, score: 1, box: [0, 0, 1, 1], area: 1, rle }] };
      expect((await rejection(writeSegmentationJsonFiles(json as never, { dir: out, stem: "x" }))).code, JSON.stringify(rle)).toBe("BAD_REQUEST");
    }
    expect(existsSync(out)).toBe(false);
  });
});

describe.skipIf(!!cannotMount)("a full disk (256 KiB tmpfs)", () => {
  it("image export: WRITE_FAILED, nothing left, on an empty and on a full disk", async () => {
    for (const [name, leave] of [["image-empty", undefined], ["image-full", 0]] as const) {
      const disk = join(dir, name);
      mountTmpfs(disk);
      if (leave !== undefined) fill(disk, leave);
      const e = await rejection(writeSegmentationFiles(result, image, { dir: disk, stem: "shot" }));
      expect([e.code, e.message], name).toEqual(["WRITE_FAILED", expect.stringContaining("the disk is full")]);
      expect(leftovers(disk), name).toEqual([]);
    }
  });

  it("video export, each format alone on a full disk: WRITE_FAILED, nothing left", async () => {
    for (const format of ["json", "png", "polygons", "overlay"] as const) {
      const disk = join(dir, `full-${format}`);
      mountTmpfs(disk);
      fill(disk);
      const e = await rejection(predictor.export(sessionId, disk, "clip", { [format]: true }));
      expect([e.code, e.message], format).toEqual(["WRITE_FAILED", expect.stringContaining("the disk is full")]);
      expect(leftovers(disk), format).toEqual([]);
    }
  });

  it("video export running out of space half-way removes what it started", async () => {
    const disk = join(dir, "half");
    mountTmpfs(disk);
    fill(disk, 16 * 1024);
    const e = await rejection(predictor.export(sessionId, disk, "clip", ALL));
    expect(e.code).toBe("WRITE_FAILED");
    expect(leftovers(disk)).toEqual([]);
  });

  it("an MP4 written straight by the video writer never appears under its name when the disk fills", async () => {
    const disk = join(dir, "writer");
    mountTmpfs(disk);
    fill(disk, 8 * 1024);
    const path = join(disk, "noise.mp4");
    const writer = await VideoWriter.open(path, { width: 320, height: 240, fps: 10 });
    const e = await rejection(
      (async () => {
        for (let t = 0; t < 20; t++) await writer.write(Uint8Array.from({ length: 320 * 240 * 3 }, () => Math.floor(Math.random() * 256)));
        await writer.close();
      })(),
    );
    await writer.abort();
    expect(e.code).toBe("WRITE_FAILED");
    expect(leftovers(disk)).toEqual([]);
  });

  it("a model download onto a full disk: WRITE_FAILED, no file under its name, no unhandled stream error", async () => {
    const disk = join(dir, "download");
    mountTmpfs(disk);
    fill(disk, 64 * 1024);
    const body = Buffer.alloc(1024 * 1024, 7);
    const server = createServer((_, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const dest = join(disk, "weights.onnx");
      const e = await rejection(downloadFile(`http://127.0.0.1:${port}/weights.onnx`, dest));
      expect([e.code, e.message]).toEqual(["WRITE_FAILED", expect.stringContaining("the disk is full")]);
      expect(existsSync(dest)).toBe(false);
    } finally {
      server.close();
    }
  });

  it("a read-only file system: WRITE_FAILED, nothing left", async () => {
    const disk = join(dir, "readonly");
    mountTmpfs(disk);
    execFileSync("mount", ["-o", "remount,ro", disk]);
    const video = await rejection(predictor.export(sessionId, disk, "clip", ALL));
    expect([video.code, video.message]).toEqual(["WRITE_FAILED", expect.stringContaining("read-only")]);
    const nested = await rejection(writeSegmentationFiles(result, image, { dir: join(disk, "a", "b"), stem: "shot" }));
    expect(nested.code).toBe("WRITE_FAILED");
    expect(leftovers(disk)).toEqual([]);
  });
});

describe("unwritable places", () => {
  it("a folder under a file, and /proc/x: WRITE_FAILED at once, without paths in the message", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    for (const out of [join(file, "out"), join(file, "deeper", "out"), "/proc/x", "/proc/x/y/z"]) {
      const began = Date.now();
      const video = await rejection(predictor.export(sessionId, out, "clip", ALL));
      const still = await rejection(writeSegmentationFiles(result, image, { dir: out, stem: "shot" }));
      for (const e of [video, still]) {
        expect(e.code, out).toBe("WRITE_FAILED");
        expect(e.message, out).not.toContain(dir);
      }
      expect(Date.now() - began, out).toBeLessThan(5000);
    }
    expect(existsSync("/proc/x")).toBe(false);
  });

  it("the process goes on: a normal export still works afterwards", async () => {
    const files = await predictor.export(sessionId, join(dir, "after"), "clip", { json: true });
    expect(files).toHaveLength(1);
  });
});
