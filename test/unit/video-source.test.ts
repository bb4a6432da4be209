import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RgbImage } from "../../core/image/decode";
import { describeFfmpeg, ffmpegCommand, findFfmpeg, startFfmpeg } from "../../core/ffmpeg";
import { openFrameSource, type FrameSource } from "../../core/video/frame-source";
import { VideoWriter } from "../../core/export/video-writer";
import { rejection } from "../support/errors";

/**
 * Real ffmpeg, real files. Every clip is written here by VideoWriter: a grey frame with a red square in cell i of
 * an 8-column grid for frame i, so whichFrame() can tell which frame a decode returned.
 */

interface Clip {
  width: number;
  height: number;
  frames: number;
  fps: number;
}

const COLUMNS = 8;

function cellOf(clip: Clip, i: number) {
  const width = Math.floor(clip.width / COLUMNS);
  const height = Math.floor(clip.height / Math.ceil(clip.frames / COLUMNS));
  const side = Math.max(4, Math.floor(Math.min(width, height) * 0.6));
  return { width, height, side, x: (i % COLUMNS) * width + ((width - side) >> 1), y: Math.floor(i / COLUMNS) * height + ((height - side) >> 1) };
}

function drawFrame(clip: Clip, i: number): Buffer {
  const data = Buffer.alloc(clip.width * clip.height * 3, 128);
  const { x, y, side } = cellOf(clip, i);
  for (let row = y; row < y + side; row++) {
    for (let col = x; col < x + side; col++) data.set([220, 30, 30], (row * clip.width + col) * 3);
  }
  return data;
}

/** The frame index drawn in an image of the clip (scaled by `scale` when the source downscaled it); -1 if none. */
function whichFrame(image: RgbImage, clip: Clip, scale = 1): number {
  let sumX = 0;
  let sumY = 0;
  let count = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const p = (y * image.width + x) * 3;
      if (image.data[p] > 150 && image.data[p + 1] < 100 && image.data[p + 2] < 100) {
        sumX += x + 0.5;
        sumY += y + 0.5;
        count++;
      }
    }
  }
  if (!count) return -1;
  const { width, height } = cellOf(clip, 0);
  return Math.floor(sumY / count / scale / height) * COLUMNS + Math.floor(sumX / count / scale / width);
}

async function writeClip(path: string, clip: Clip): Promise<string> {
  const writer = await VideoWriter.open(path, clip);
  for (let i = 0; i < clip.frames; i++) await writer.write(drawFrame(clip, i));
  await writer.close();
  return path;
}

/** ffmpeg processes whose parent is this test process (from /proc, so nothing is mocked). */
function childFfmpegs(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const line = readFileSync(`/proc/${entry}/stat`, "utf8");
      const end = line.lastIndexOf(")");
      const ppid = Number(line.slice(end + 2).split(" ")[1]);
      if (ppid === process.pid && line.slice(line.indexOf("(") + 1, end) === "ffmpeg") found.push(Number(entry));
    } catch {
      // the process ended while being looked at
    }
  }
  return found;
}

async function waitForChildFfmpeg(): Promise<number> {
  for (let tries = 0; tries < 2500; tries++) {
    const [pid] = childFfmpegs();
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error("no ffmpeg was started");
}

/** Reads the frames in this order and says which frame of the mp4 clip (or a copy of it) each one shows. */
async function readAll(source: FrameSource, order: number[], direction: "forward" | "backward" = "forward"): Promise<number[]> {
  const seen: number[] = [];
  for (const i of order) seen.push(whichFrame(await source.readFrame(i, direction), CLIPS.mp4));
  return seen;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** 0..n-1 in a fixed pseudo-random order (Fisher-Yates with a Park-Miller generator). */
function shuffled(n: number): number[] {
  const order = range(n);
  let seed = 7;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 16807) % 2147483647;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** H.264 4:2:0 stores odd sizes padded by a pixel. */
const even = (n: number) => n + (n % 2);

const CLIPS = {
  mp4: { width: 161, height: 121, frames: 60, fps: 10 },
  webm: { width: 161, height: 121, frames: 24, fps: 7.5 },
  avi: { width: 321, height: 241, frames: 30, fps: 30 },
  mkv: { width: 200, height: 150, frames: 8, fps: 7.5 },
  mov: { width: 1280, height: 720, frames: 20, fps: 30 },
} satisfies Record<string, Clip>;
type Format = keyof typeof CLIPS;
const STORED_SIZE: Record<Format, (n: number) => number> = { mp4: even, webm: (n) => n, avi: (n) => n, mkv: even, mov: even };

let dir: string;
let privateTmp: string;
let savedTmpdir: string | undefined;
const videos = {} as Record<Format, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sam3-video-"));
  // os.tmpdir() and ffmpeg's temp files go here while the tests run, so "no temp files" can be checked exactly
  privateTmp = join(dir, "tmp");
  await mkdir(privateTmp);
  savedTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  await Promise.all((Object.keys(CLIPS) as Format[]).map(async (f) => (videos[f] = await writeClip(join(dir, `clip.${f}`), CLIPS[f]))));
});

afterAll(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("ffmpeg binary", () => {
  it("finds a working ffmpeg and describes it in one line", () => {
    const ffmpeg = findFfmpeg();
    expect(["env", "system", "bundled"]).toContain(ffmpeg.origin);
    expect(ffmpeg.version).toMatch(/\S/);
    expect(describeFfmpeg()).toContain(`ffmpeg ${ffmpeg.version} (${ffmpeg.path})`);
    expect(describeFfmpeg()).not.toContain("\n");
  });

  it("fails with FFMPEG_FAILED when $SAM3_FFMPEG names a binary that does not run", () => {
    const original = findFfmpeg();
    const saved = process.env.SAM3_FFMPEG;
    process.env.SAM3_FFMPEG = join(dir, "no-such-ffmpeg");
    try {
      expect(() => findFfmpeg()).toThrow(expect.objectContaining({ code: "FFMPEG_FAILED", message: expect.stringContaining("SAM3_FFMPEG") }));
    } finally {
      if (saved === undefined) delete process.env.SAM3_FFMPEG;
      else process.env.SAM3_FFMPEG = saved;
    }
    expect(findFfmpeg()).toEqual(original);
  });
});

describe("video round trips", () => {
  it.each(Object.keys(CLIPS) as Format[])("%s: exact frame count, size and rate; every frame decodes as itself", async (format) => {
    const clip = CLIPS[format];
    const source = await openFrameSource(videos[format]);
    try {
      const size = STORED_SIZE[format];
      expect(source.info).toMatchObject({ kind: "video", frames: clip.frames, width: size(clip.width), height: size(clip.height) });
      expect(source.info).toMatchObject({ sourceWidth: size(clip.width), sourceHeight: size(clip.height) });
      expect(source.info.fps).toBeCloseTo(clip.fps, 6);
      expect(source.info.durationSeconds).toBeCloseTo(clip.frames / clip.fps, 6);
      expect(source.decodeError).toBeUndefined();
      const seen: number[] = [];
      for (let i = 0; i < clip.frames; i++) {
        const frame = await source.readFrame(i);
        expect(frame.data.length).toBe(frame.width * frame.height * 3);
        seen.push(whichFrame(frame, clip));
      }
      expect(seen).toEqual(range(clip.frames));
    } finally {
      await source.close();
    }
  });
});

describe("reading frames", () => {
  it("returns the right frame backward and in random order, with keys per file, size and frame", async () => {
    const backward = await openFrameSource(videos.mp4);
    const reversed = range(60).reverse();
    expect(await readAll(backward, reversed, "backward")).toEqual(reversed);
    const keys = new Set((await Promise.all(range(60).map((i) => backward.readFrame(i)))).map((f) => f.key));
    expect(keys.size).toBe(60);
    await backward.close();

    const random = await openFrameSource(videos.mp4, { cacheBytes: 4 * 162 * 122 * 3 });
    const order = shuffled(60);
    expect(await readAll(random, order)).toEqual(order);
    const again = await openFrameSource(videos.mp4);
    expect((await random.readFrame(5)).key).toBe((await again.readFrame(5)).key);
    await Promise.all([random.close(), again.close()]);
  });

  it("serves concurrent reads of one chunk from one ffmpeg run", async () => {
    const source = await openFrameSource(videos.mov);
    const pids = new Set<number>();
    let done = false;
    const reads = Promise.all(range(16).map((i) => source.readFrame(i))).finally(() => (done = true));
    while (!done) {
      for (const pid of childFfmpegs()) pids.add(pid);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect((await reads).map((f) => whichFrame(f, CLIPS.mov))).toEqual(range(16));
    expect(pids.size).toBeLessThanOrEqual(1);
    await source.close();
  });

  it("stride N serves every Nth frame at 1/N the rate", async () => {
    const source = await openFrameSource(videos.mp4, { stride: 3 });
    expect(source.info).toMatchObject({ frames: 20, width: 162, height: 122 });
    expect(source.info.fps).toBeCloseTo(10 / 3, 6);
    expect(await readAll(source, range(20))).toEqual(range(20).map((i) => i * 3));
    const every = await openFrameSource(videos.mp4);
    expect((await source.readFrame(4)).key).toBe((await every.readFrame(12)).key);
    await every.close();
    const last = await openFrameSource(videos.mp4, { stride: 7 });
    expect(last.info.frames).toBe(9);
    expect(await readAll(last, [8, 7, 3], "backward")).toEqual([56, 49, 21]);
    await Promise.all([source.close(), last.close()]);
  });

  it("maxSide downscales with the aspect kept; a larger maxSide changes nothing", async () => {
    const small = await openFrameSource(videos.mov, { maxSide: 320 });
    expect(small.info).toMatchObject({ width: 320, height: 180, sourceWidth: 1280, sourceHeight: 720 });
    const frames = await Promise.all(range(20).map((i) => small.readFrame(i)));
    expect(frames.map((f) => [f.width, f.height, f.data.length])).toEqual(range(20).map(() => [320, 180, 320 * 180 * 3]));
    expect(frames.map((f) => whichFrame(f, CLIPS.mov, 0.25))).toEqual(range(20));
    const full = await openFrameSource(videos.mov, { maxSide: 4000 });
    expect(full.info).toMatchObject({ width: 1280, height: 720 });
    expect((await full.readFrame(3)).key).not.toBe(frames[3].key);
    await Promise.all([small.close(), full.close()]);
  });

  it("serves a variable-frame-rate video frame by frame, at any chunking", async () => {
    const variable = join(dir, "variable.mkv");
    // frames 20 and later are stamped 3 s late: a pause, as screen recordings have (Matroska keeps the gap)
    const command = ffmpegCommand().input(videos.mp4).outputOptions("-vf", "setpts=PTS+gt(N\\,19)*3/TB", "-c:v", "libx264", "-pix_fmt", "yuv420p").output(variable);
    await startFfmpeg(command, "writing the variable-rate clip").finished;
    const whole = await openFrameSource(variable);
    expect(whole.info.frames).toBe(60);
    expect(whole.info.durationSeconds).toBeLessThan(9);
    expect(await readAll(whole, range(60))).toEqual(range(60));
    const single = await openFrameSource(variable, { cacheBytes: 0 });
    const order = shuffled(60).slice(0, 20);
    expect(await readAll(single, order, "backward")).toEqual(order);
    await Promise.all([whole.close(), single.close()]);
  });

  it("keeps the cache within cacheBytes", async () => {
    const frameBytes = 162 * 122 * 3;
    const source = await openFrameSource(videos.mp4, { cacheBytes: 3 * frameBytes });
    expect(await readAll(source, range(20))).toEqual(range(20));
    expect(source.cachedBytes()).toBeGreaterThan(0);
    expect(source.cachedBytes()).toBeLessThanOrEqual(3 * frameBytes);
    const none = await openFrameSource(videos.mp4, { cacheBytes: frameBytes - 1 });
    expect(whichFrame(await none.readFrame(4), CLIPS.mp4)).toBe(4);
    expect(none.cachedBytes()).toBe(0);
    await Promise.all([source.close(), none.close()]);
  });

  it("refuses out-of-range indices with BAD_REQUEST", async () => {
    const source = await openFrameSource(videos.mkv);
    for (const index of [-1, 8, 2.5, Number.NaN]) expect((await rejection(source.readFrame(index))).code).toBe("BAD_REQUEST");
    await source.close();
  });
});

describe("frame folders and images", () => {
  const clip: Clip = { width: 96, height: 64, frames: 12, fps: 30 };
  const png = (i: number) => sharp(drawFrame(clip, i), { raw: { width: clip.width, height: clip.height, channels: 3 } }).png().toBuffer();

  it("reads JPEG / PNG frames in natural order and ignores everything else", async () => {
    const folder = join(dir, "frames");
    await mkdir(join(folder, "extra.png"), { recursive: true });
    await Promise.all(range(12).map(async (i) => writeFile(join(folder, `frame${i + 1}.png`), await png(i))));
    await writeFile(join(folder, "notes.txt"), "not a frame");
    await writeFile(join(folder, "._frame3.png"), "macOS metadata");
    await writeFile(join(folder, "Thumbs.db"), "");
    const source = await openFrameSource(folder);
    expect(source.info).toMatchObject({ kind: "frames", frames: 12, width: 96, height: 64, fps: 30, decoder: "png (sharp)" });
    for (const i of range(12)) expect((await source.readFrame(i)).data.equals(drawFrame(clip, i))).toBe(true);
    await source.close();

    const small = await openFrameSource(folder, { maxSide: 48, stride: 5 });
    expect(small.info).toMatchObject({ frames: 3, width: 48, height: 32, sourceWidth: 96, sourceHeight: 64, fps: 6 });
    expect(whichFrame(await small.readFrame(2), clip, 0.5)).toBe(10);
    await small.close();
  });

  it("reads a single image as one frame", async () => {
    const file = join(dir, "still.png");
    await writeFile(file, await png(5));
    const source = await openFrameSource(file);
    expect(source.info).toMatchObject({ kind: "image", frames: 1, width: 96, height: 64 });
    expect((await source.readFrame(0)).data.equals(drawFrame(clip, 5))).toBe(true);
    expect((await rejection(source.readFrame(1))).code).toBe("BAD_REQUEST");
    const small = await openFrameSource(file, { maxSide: 24 });
    expect(small.info).toMatchObject({ width: 24, height: 16 });
    expect((await small.readFrame(0)).data.length).toBe(24 * 16 * 3);
    await Promise.all([source.close(), small.close()]);
  });
});

describe("bad input", () => {
  it("names the path in BAD_VIDEO for an empty folder, a missing path and a file that is no video", async () => {
    const empty = join(dir, "empty-folder");
    await mkdir(empty);
    const fake = join(dir, "fake.mp4");
    await writeFile(fake, "this is text, not a video\n");
    const fakeImage = join(dir, "fake.png");
    await writeFile(fakeImage, "this is text, not an image\n");
    for (const path of [empty, join(dir, "missing.mp4"), fake, fakeImage]) {
      const error = await rejection(openFrameSource(path));
      expect(error.code).toBe("BAD_VIDEO");
      expect(error.message).toContain(path);
    }
  });

  it("opens a truncated mp4 with the frames that decode and says so", async () => {
    const bytes = await readFile(videos.mp4);
    const truncated = join(dir, "truncated.mp4");
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const source = await openFrameSource(truncated);
    expect(source.info.frames).toBeGreaterThan(0);
    expect(source.info.frames).toBeLessThan(60);
    expect(source.decodeError).toContain(truncated);
    expect(source.decodeError).not.toContain("\n");
    const seen = await readAll(source, range(source.info.frames));
    expect(seen.every((i) => i >= 0)).toBe(true);
    expect(seen.slice(0, 10)).toEqual(range(10));
    await source.close();
  });
});

describe("ffmpeg processes", () => {
  it("close() kills the ffmpeg of a read in progress; reads after close fail with CLOSED", async () => {
    const source = await openFrameSource(videos.mov);
    const read = source.readFrame(0);
    await waitForChildFfmpeg();
    await source.close();
    expect((await rejection(read)).code).toBe("CLOSED");
    expect(childFfmpegs()).toEqual([]);
    expect((await rejection(source.readFrame(1))).code).toBe("CLOSED");

    const immediate = await openFrameSource(videos.mov);
    const early = immediate.readFrame(4);
    await immediate.close();
    expect((await rejection(early)).code).toBe("CLOSED");
    expect(childFfmpegs()).toEqual([]);
    expect(immediate.cachedBytes()).toBe(0);
  });

  it("a read whose ffmpeg dies fails with FFMPEG_FAILED and the next read retries", async () => {
    const source = await openFrameSource(videos.mov);
    const read = source.readFrame(2);
    process.kill(await waitForChildFfmpeg(), "SIGKILL");
    const error = await rejection(read);
    expect(error.code).toBe("FFMPEG_FAILED");
    expect(error.message).toContain("killed");
    expect(whichFrame(await source.readFrame(2), CLIPS.mov)).toBe(2);
    await source.close();
  });

  it("VideoWriter reports an unwritable output, refuses bad frames and extensions, and abort removes the file", async () => {
    const clip = CLIPS.mkv;
    const unwritable = join(dir, "no-such-dir", "out.mp4");
    const error = await rejection(VideoWriter.open(unwritable, clip).then((w) => w.write(drawFrame(clip, 0)).then(() => w.close())));
    expect(error.code).toBe("WRITE_FAILED");
    expect(error.message).toBe("writing out.mp4 failed: a folder of the path does not exist");

    expect((await rejection(VideoWriter.open(join(dir, "out.gif"), clip))).code).toBe("BAD_OPTION");
    const aborted = join(dir, "aborted.mp4");
    const writer = await VideoWriter.open(aborted, clip);
    expect((await rejection(writer.write(new Uint8Array(10)))).code).toBe("BAD_OPTION");
    await writer.write(drawFrame(clip, 0));
    await writer.abort();
    await expect(stat(aborted)).rejects.toThrow();
    expect(childFfmpegs()).toEqual([]);
  });

  it("leaves no temp files behind", () => {
    expect(tmpdir()).toBe(privateTmp);
    expect(readdirSync(privateTmp)).toEqual([]);
  });
});
