import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FrameJson } from "../../core/export/json";
import { cocoRleToMask } from "../../core/masks/rle";
import { maskArea } from "../../core/masks/mask";
import { openFrameSource } from "../../core/video/frame-source";
import { cli, stderrLines } from "../support/cli";
import { makeVideo } from "../support/synthetic-video";

const dir = mkdtempSync(join(tmpdir(), "sam3-track-"));
let clip: string;

beforeAll(async () => {
  clip = await makeVideo(join(dir, "walk.webm"), { width: 161, height: 121, frames: 10, fps: 7.5 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const jsonLines = (stdout: string): FrameJson[] => stdout.trim().split("\n").map((l) => JSON.parse(l));

describe("sam3 track", () => {
  it("--out writes the same lines as --json, one per frame, also when nothing is found", async () => {
    const out = join(dir, "nothing");
    const [run, printed] = await Promise.all([cli("track", clip, "--text", "x", "--out", out), cli("track", clip, "--text", "x", "--json")]);
    expect(run.code, run.stderr).toBe(0);
    const written = readFileSync(join(out, "walk.frames.jsonl"), "utf8");
    expect(written).toBe(printed.stdout);
    expect(jsonLines(written)).toEqual([...Array(10).keys()].map((frame_index) => ({ frame_index, objects: [] })));
  });

  it("--json prints one line per tracked frame with per-object RLE at the video's size", async () => {
    const run = await cli("track", clip, "--point", "0,30,45", "--obj", "1", "--point", "0,100,20", "--point", "0,5,5:neg", "--obj", "2", "--direction", "forward", "--json");
    expect(run.code, run.stderr).toBe(0);
    const frames = jsonLines(run.stdout);
    expect(frames.map((f) => f.frame_index)).toEqual([...Array(10).keys()]);
    for (const f of frames) {
      expect(Object.keys(f)).toEqual(["frame_index", "objects"]);
      for (const o of f.objects) {
        expect([1, 2]).toContain(o.id);
        expect(Object.keys(o)).toEqual(["id", "score", "box", "area", "rle", "colour", "box_xywh"]);
        expect(o.rle.size).toEqual([121, 161]);
        expect(maskArea(cocoRleToMask(o.rle))).toBe(o.area);
        o.box_xywh.forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
        expect(o.box_xywh[0] + o.box_xywh[2]).toBeLessThanOrEqual(1 + 1e-9);
      }
    }
    expect(run.stderr).toContain("tracking");
  });

  it("--start and --max-frames bound the frames, --direction backward reverses them", async () => {
    const run = await cli("track", clip, "--point", "5,30,45", "--obj", "3", "--start", "5", "--max-frames", "2", "--direction", "backward", "--json");
    expect(run.code, run.stderr).toBe(0);
    expect(jsonLines(run.stdout).map((f) => f.frame_index)).toEqual([3, 4, 5]);
  });

  it("--out writes the overlay video, the per-frame JSON lines and with --png one PNG sequence per object", async () => {
    const out = join(dir, "out");
    const run = await cli("track", clip, "--point", "0,30,45", "--obj", "1", "--point", "0,100,20", "--obj", "2", "--remove", "2", "--out", out, "--png");
    expect(run.code, run.stderr).toBe(0);
    // the bundled pack has the memory graphs: SAM 3's memory tracker carries the objects
    expect(run.stdout).toBe("10 frame(s) tracked (memory), objects: 1\n");
    expect(readdirSync(out).sort()).toEqual(["walk.frames.jsonl", "walk.masks", "walk.overlay.mp4"]);
    const overlay = await openFrameSource(join(out, "walk.overlay.mp4"));
    // x264 pads odd sizes by a pixel
    expect([overlay.info.frames, overlay.info.width, overlay.info.height]).toEqual([10, 162, 122]);
    await overlay.close();
    const lines = jsonLines(readFileSync(join(out, "walk.frames.jsonl"), "utf8"));
    expect(lines.flatMap((f) => f.objects.map((o) => o.id)).every((id) => id === 1)).toBe(true);
    expect(readdirSync(join(out, "walk.masks"))).toEqual(["obj-1"]);
    const pngs = readdirSync(join(out, "walk.masks", "obj-1"));
    expect(pngs).toEqual(lines.filter((f) => f.objects.length).map((f) => `${String(f.frame_index).padStart(6, "0")}.png`));
  });

  it("tracks a text concept (the detector runs on every frame)", async () => {
    const run = await cli("track", clip, "--text", "red square", "--direction", "forward", "--json");
    expect(run.code, run.stderr).toBe(0);
    expect(jsonLines(run.stdout)).toHaveLength(10);
  });

  it("--threshold lets the bundled random-weight pack find text objects (none at SAM 3's default)", async () => {
    const run = await cli("track", "examples/shapes.mp4", "--text", "red circle", "--threshold", "0.1", "--json");
    expect(run.code, run.stderr).toBe(0);
    const frames = jsonLines(run.stdout);
    expect(frames).toHaveLength(24);
    expect(frames.some((f) => f.objects.length > 0)).toBe(true);
  }, 180_000);

  it("reports bad input in one line with the right exit code", async () => {
    const junk = join(dir, "junk.mp4");
    writeFileSync(junk, "this is not a video");
    const cases: [string[], number, RegExp][] = [
      [["track", join(dir, "missing.mp4"), "--text", "x"], 1, /missing\.mp4/],
      [["track", junk, "--text", "x"], 1, /junk\.mp4/],
      [["track", clip, "--point", "0,30,45"], 2, /--obj/],
      [["track", clip, "--point", "99,30,45", "--obj", "1"], 1, /frame_index 99 is out of range/],
      [["track", clip, "--point", "0,30", "--obj", "1"], 2, /f,x,y/],
      [["track", clip, "--text", "x", "--direction", "sideways"], 2, /--direction/],
      [["track", clip, "--point", "0,30,45", "--obj", "1", "--remove", "5"], 1, /no object 5/],
      [["track", clip], 2, /--text/],
    ];
    for (const [args, code, message] of cases) {
      const run = await cli(...args);
      expect(run.code, `${args.join(" ")}: ${run.stderr}`).toBe(code);
      const errors = stderrLines(run).filter((l) => l.startsWith("sam3: error:"));
      expect(errors, run.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(message);
      expect(run.stderr).not.toContain("    at ");
    }
  });
});
