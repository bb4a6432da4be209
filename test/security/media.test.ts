import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Confinement } from "../../core/confine";
import { Sam3Error } from "../../core/errors";
import { decodeImage } from "../../core/image/decode";
import { LIMITS } from "../../core/limits";
import { findFfmpeg, sanitizeLogLine } from "../../core/ffmpeg";
import { openFrameSource, type FrameSource, type FrameSourceOptions } from "../../core/video/frame-source";
import { Sam3 } from "../../core/sam3";
import { concatList, flatJpeg, hlsPlaylist, mjpegAvi } from "./media-files";
import { hostilePacks } from "./pack-files";

/**
 * ffmpeg and frame sources on hostile input, with the real ffmpeg binaries (the bundled 4.1 and the system one,
 * 5+ here) and real files written at test time. The "outside" folder holds a real small video, a JPEG and a
 * secret text; every attack tries to make them decoded through a file inside the "allowed" folder.
 */

const root = mkdtempSync(join(tmpdir(), "sam3-media-sec-"));
const outside = join(root, "outside");
const allowed = join(root, "allowed");
const SECRET = "SECRET-CONTENT root:x:0:0:root:/root:/bin/bash";
const at = (name: string) => join(allowed, name);

const small = flatJpeg(64, 48);
const SMALL_VIDEO_FRAMES = 5;

beforeAll(() => {
  mkdirSync(outside);
  mkdirSync(allowed);
  writeFileSync(join(outside, "secret.avi"), mjpegAvi(Array(SMALL_VIDEO_FRAMES).fill(small), 64, 48));
  writeFileSync(join(outside, "secret.jpg"), small);
  writeFileSync(join(outside, "secret.txt"), SECRET);
  writeFileSync(at("plain.avi"), mjpegAvi(Array(SMALL_VIDEO_FRAMES).fill(small), 64, 48));
  // playlists and lists reaching the outside video, under their own names and disguised as videos or unknown files
  for (const name of ["hls-absolute.m3u8", "hls-absolute.mp4", "hls-absolute.mkv", "hls-absolute.dat", "hls-absolute"]) {
    writeFileSync(at(name), hlsPlaylist(join(outside, "secret.avi")));
  }
  for (const name of ["hls-relative.m3u8", "hls-relative.mp4"]) writeFileSync(at(name), hlsPlaylist("../outside/secret.avi"));
  writeFileSync(at("hls-file-url.mp4"), hlsPlaylist(`file://${join(outside, "secret.avi")}`));
  writeFileSync(at("hls-http.mp4"), hlsPlaylist("http://127.0.0.1:9/secret.avi"));
  // a segment that is a named pipe: opening it blocks until a writer comes, so a quick refusal proves it was never opened
  execFileSync("mkfifo", [join(outside, "pipe-segment.ts")]);
  writeFileSync(at("hls-pipe.mp4"), hlsPlaylist(join(outside, "pipe-segment.ts")));
  symlinkSync(join(outside, "secret.avi"), at("link.avi"));
  for (const name of ["concat.txt", "concat.mp4", "concat.ffconcat"]) writeFileSync(at(name), concatList("link.avi"));
  // names that would be protocols or protocol options if ffmpeg read them as URLs: here they are plain files
  writeFileSync(at("concat:plain.avi|plain.avi"), mjpegAvi(Array(SMALL_VIDEO_FRAMES).fill(small), 64, 48));
  writeFileSync(at("subfile,,start,0,end,100,,:plain.avi"), mjpegAvi(Array(SMALL_VIDEO_FRAMES).fill(small), 64, 48));
  // frames far above the pixel limit in 4.5 MB; the same behind headers that say 64x48; small frames
  const big = flatJpeg(16000, 16000);
  writeFileSync(at("bomb.avi"), mjpegAvi([big, big, big], 16000, 16000));
  writeFileSync(at("liar.avi"), mjpegAvi([big, big, big], 64, 48));
  writeFileSync(at("big.jpg"), big);
  const tiny = flatJpeg(320, 240);
  writeFileSync(at("fine.avi"), mjpegAvi([tiny, tiny], 320, 240));
  writeFileSync(at("claims-long.avi"), mjpegAvi([small, small], 64, 48, 30, 10 * LIMITS.framesPerSession));
  // frame folders: one with a link out, one that is a link out, one with hidden and hard-to-see names
  mkdirSync(at("frames-escape"));
  writeFileSync(join(at("frames-escape"), "frame1.jpg"), small);
  symlinkSync(join(outside, "secret.jpg"), join(at("frames-escape"), "frame2.jpg"));
  mkdirSync(join(outside, "frames"));
  writeFileSync(join(outside, "frames", "frame1.jpg"), small);
  symlinkSync(join(outside, "frames"), at("frames-link"));
  symlinkSync(join(outside, "secret.jpg"), at("image-link.jpg"));
  mkdirSync(at("frames-names"));
  for (const name of ["frame1.jpg", "frame3.jpg", ".frame0.jpg", "..frame2.jpg", "frame..4.jpg", "frame\n5.jpg", "frame\u00856.jpg"]) writeFileSync(join(at("frames-names"), name), small);
  symlinkSync(join(at("frames-names"), "frame1.jpg"), join(at("frames-names"), "frame2.jpg"));
  symlinkSync(join(at("frames-names"), "missing.jpg"), join(at("frames-names"), "frame9.jpg"));
  // broken images, by extension and by content, alone and as a folder's first frame
  const truncated = small.subarray(0, small.length >> 1);
  for (const name of ["cut.jpg", "cut-unknown.bin", "cut"]) writeFileSync(at(name), truncated);
  writeFileSync(at("not-a.png"), SECRET);
  writeFileSync(at("plain.jpg"), small);
  mkdirSync(at("frames-cut"));
  writeFileSync(join(at("frames-cut"), "frame1.jpg"), truncated);
  writeFileSync(join(at("frames-cut"), "frame2.jpg"), small);
  execFileSync("mkfifo", [at("pipe.jpg")]);
  writeFileSync(at("drawing.svg"), `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="8" height="8"><image xlink:href="file://${join(outside, "secret.jpg")}" width="8" height="8"/></svg>`);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<Sam3Error> {
  const outcome = await promise.then(
    async (value) => {
      await (value as FrameSource | Sam3 | undefined)?.close?.();
      return new Error("it opened");
    },
    (e: unknown) => e,
  );
  expect(outcome).toBeInstanceOf(Sam3Error);
  return outcome as Sam3Error;
}

/** Frames plain ffmpeg (no restriction) decodes from a file: the attack is real when this finds the outside frames. */
function plainFfmpegFrames(binary: string, file: string): number {
  try {
    const out = execFileSync(binary, ["-hide_banner", "-nostdin", "-loglevel", "error", "-i", file, "-f", "framecrc", "-"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 30_000 });
    return out.split("\n").filter((l) => /^\d+,/.test(l)).length;
  } catch {
    return 0;
  }
}

/** The messages of errors must not show where the files really are, nor what they hold. */
function expectNoLeak(e: Sam3Error) {
  expect(e.message).not.toContain(outside);
  expect(e.message).not.toContain("SECRET");
  expect(e.message).not.toContain("file:");
  expect(e.message).not.toContain("\n");
}

/** Peak resident memory (kB) of this process's ffmpeg children, sampled from /proc every 2 ms while `work` runs. */
async function sampleChildRss<T>(work: () => Promise<T>): Promise<{ outcome: T | unknown; peakKb: number }> {
  let peakKb = 0;
  const sample = () => {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const end = stat.lastIndexOf(")");
        if (Number(stat.slice(end + 2).split(" ")[1]) !== process.pid || !stat.slice(stat.indexOf("(") + 1, end).startsWith("ffmpeg")) continue;
        const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, "utf8"));
        if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
      } catch {
        // the process ended between the listing and the read
      }
    }
  };
  const timer = setInterval(sample, 2);
  try {
    const outcome = await work().catch((e: unknown) => e);
    return { outcome, peakKb };
  } finally {
    clearInterval(timer);
  }
}

const bundled = (require("@ffmpeg-installer/ffmpeg") as { path: string }).path;
const systemFfmpeg = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});
const BINARIES = [
  { name: "bundled ffmpeg", path: bundled },
  ...(systemFfmpeg ? [{ name: "system ffmpeg", path: systemFfmpeg }] : []),
];
if (!systemFfmpeg) console.log("media security: no system ffmpeg in /usr/bin or /usr/local/bin, so only the bundled one is tried");

describe.each(BINARIES)("$name", ({ path: binary }) => {
  let saved: string | undefined;
  const confine = () => new Confinement([allowed]);
  beforeAll(() => {
    saved = process.env.SAM3_FFMPEG;
    process.env.SAM3_FFMPEG = binary;
    console.log(`media security: ${findFfmpeg().version} at ${binary}`);
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.SAM3_FFMPEG;
    else process.env.SAM3_FFMPEG = saved;
  });

  it("still reads a plain single-file video, also one whose name looks like a protocol", async () => {
    for (const name of ["plain.avi", "concat:plain.avi|plain.avi", "subfile,,start,0,end,100,,:plain.avi"]) {
      const source = await openFrameSource(at(name), { confine: confine() });
      expect(source.info.frames).toBe(SMALL_VIDEO_FRAMES);
      expect((await source.readFrame(SMALL_VIDEO_FRAMES - 1)).data[0]).toBe(128);
      await source.close();
    }
  });

  it.each([
    "hls-absolute.m3u8",
    "hls-absolute.mp4",
    "hls-absolute.mkv",
    "hls-absolute.dat",
    "hls-absolute",
    "hls-relative.m3u8",
    "hls-relative.mp4",
    "concat.txt",
    "concat.mp4",
    "concat.ffconcat",
  ])("refuses the playlist or list %s, which plain ffmpeg follows outside", async (name) => {
    expect(plainFfmpegFrames(binary, at(name))).toBe(SMALL_VIDEO_FRAMES);
    for (const options of [{ confine: confine() }, {}] as FrameSourceOptions[]) {
      const e = await failure(openFrameSource(at(name), options));
      expect(e.code).toBe("BAD_VIDEO");
      expect(e.message).toMatch(/only single video files are read/);
      expect(e.message).toMatch(/playlist|list of files/);
      expectNoLeak(e);
    }
  });

  it("refuses a playlist before ffmpeg opens any file it names", async () => {
    const started = performance.now();
    const e = await failure(openFrameSource(at("hls-pipe.mp4"), { confine: confine() }));
    expect(e.code).toBe("BAD_VIDEO");
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("refuses playlists of file: and http: URLs without opening them", async () => {
    for (const name of ["hls-file-url.mp4", "hls-http.mp4"]) {
      const e = await failure(openFrameSource(at(name), { confine: confine() }));
      expect(e.code).toBe("BAD_VIDEO");
      expectNoLeak(e);
    }
  });

  it("takes a path never as a URL: file:, http:, concat: and subfile, names are files that do not exist", async () => {
    for (const name of [`file:${join(outside, "secret.avi")}`, "http://127.0.0.1:9/a.mp4", `concat:${join(outside, "secret.avi")}`, `subfile,,start,0,end,0,,:${join(outside, "secret.avi")}`]) {
      const e = await failure(openFrameSource(name));
      expect(e.code).toBe("BAD_VIDEO");
      expect(e.message).toMatch(/not found/);
    }
  });

  it("refuses 16000x16000 MJPEG frames from the headers, fast and in little memory", async () => {
    const file = at("bomb.avi");
    const bytes = statSync(file).size;
    const before = process.resourceUsage().maxRSS;
    const started = performance.now();
    const { outcome, peakKb } = await sampleChildRss(() => openFrameSource(file, { confine: confine() }));
    const ms = performance.now() - started;
    const growthKb = process.resourceUsage().maxRSS - before;
    console.log(`media security: ${(bytes / 1e6).toFixed(1)} MB MJPEG AVI of 16000x16000 frames refused in ${ms.toFixed(0)} ms; ffmpeg peak RSS ${(peakKb / 1024).toFixed(0)} MiB (sampled), this process's peak grew ${(growthKb / 1024).toFixed(0)} MiB`);
    expect(outcome).toBeInstanceOf(Sam3Error);
    expect((outcome as Sam3Error).code).toBe("LIMIT_EXCEEDED");
    expect((outcome as Sam3Error).message).toContain("16000x16000");
    // decoding one such frame takes ~400 MiB in ffmpeg and 768 MiB as RGB here
    expect(peakKb).toBeLessThan(200 * 1024);
    expect(growthKb).toBeLessThan(200 * 1024);
    expect(ms).toBeLessThan(10_000);
    // a container header that lies about the size: the decoder's pixel cap still stops the first frame
    const lying = await sampleChildRss(() => openFrameSource(at("liar.avi")));
    expect(lying.outcome).toBeInstanceOf(Sam3Error);
    expect(["LIMIT_EXCEEDED", "BAD_VIDEO"]).toContain((lying.outcome as Sam3Error).code);
    expect(lying.peakKb).toBeLessThan(200 * 1024);
    // small frames obey a caller's limit too, and pass at their exact size: the refusal is the limit, not the file
    const e = await failure(openFrameSource(at("fine.avi"), { maxPixels: 320 * 240 - 1 }));
    expect(e.code).toBe("LIMIT_EXCEEDED");
    const fine = await openFrameSource(at("fine.avi"), { maxPixels: 320 * 240 });
    expect(fine.info.frames).toBe(2);
    await fine.close();
    // and images and frame folders the same way
    for (const path of [at("plain.jpg"), at("frames-names")]) expect((await failure(openFrameSource(path, { maxPixels: 64 * 48 - 1 }))).code).toBe("LIMIT_EXCEEDED");
  });

  it("refuses a video of more frames than a source may serve: from its headers, else from the count", async () => {
    const started = performance.now();
    const early = await failure(openFrameSource(at("claims-long.avi")));
    expect(early.code).toBe("LIMIT_EXCEEDED");
    expect(performance.now() - started).toBeLessThan(2_000);
    // one frame over: the header's estimate is within its margin, the probe's count is not
    if (!existsSync(at("long.avi"))) writeFileSync(at("long.avi"), mjpegAvi(Array(LIMITS.framesPerSession + 1).fill(flatJpeg(16, 16)), 16, 16, 30));
    const e = await failure(openFrameSource(at("long.avi")));
    expect(e.code).toBe("LIMIT_EXCEEDED");
    expect(e.message).toMatch(/frames/);
    const strided = await openFrameSource(at("long.avi"), { stride: 2 });
    expect(strided.info.frames).toBe(LIMITS.framesPerSession / 2 + 1);
    await strided.close();
  });

  it("quotes ffmpeg's complaint without the file's real path, and names an upload by its label", async () => {
    const upload = join(root, "upload-7f3a.tmp.mp4");
    writeFileSync(upload, `${SECRET}\nnot a video at all\n`);
    const e = await failure(openFrameSource(upload, { label: "holiday.mp4" }));
    expect(e.code).toBe("BAD_VIDEO");
    expect(e.message).toContain("holiday.mp4");
    expect(e.message).not.toContain(root);
    expectNoLeak(e);
    // also when the confinement refuses it, and when its frames are too large
    const refused = await failure(openFrameSource(upload, { label: "holiday.mp4", confine: confine() }));
    expect(refused.code).toBe("PATH_NOT_ALLOWED");
    expect(refused.message).toContain("holiday.mp4");
    expect(refused.message).not.toContain(root);
    const large = await failure(openFrameSource(at("bomb.avi"), { label: "big.avi" }));
    expect(large.message).toContain("big.avi");
    expect(large.message).not.toContain(root);
  });
});

describe("ffmpeg's log in errors", () => {
  it("keeps paths, URLs, quoted names and control characters out of a quoted line", () => {
    expect(sanitizeLogLine(`file:${join(outside, "secret.avi")}: Invalid data found when processing input`)).toBe("… Invalid data found when processing input");
    expect(sanitizeLogLine(`[hls @ 0x55d0c0] Opening '${join(outside, "secret.avi")}' for reading`)).toBe("Opening '…' for reading");
    expect(sanitizeLogLine("[http @ 0x1] http://10.0.0.1/x: Connection refused\u001b[0m")).toBe("… Connection refused [0m");
    expect(sanitizeLogLine("x".repeat(500)).length).toBeLessThanOrEqual(161);
  });
});

describe("frame folders and images", () => {
  const confine = () => new Confinement([allowed]);

  it("refuses a frame that links outside the allowed folders, naming the entry and not its target", async () => {
    const folder = at("frames-escape");
    const e = await failure(openFrameSource(folder, { confine: confine() }));
    expect(e.code).toBe("PATH_NOT_ALLOWED");
    expect(e.message).toContain("frame2.jpg");
    expectNoLeak(e);
    // unconfined, a frame folder is still one folder
    const loose = await failure(openFrameSource(folder));
    expect(loose.code).toBe("PATH_NOT_ALLOWED");
    expect(loose.message).toContain("frame2.jpg");
    expectNoLeak(loose);
  });

  it("refuses a frame folder that is itself a link outside, and a single image linked outside", async () => {
    for (const name of ["frames-link", "image-link.jpg"]) {
      const e = await failure(openFrameSource(at(name), { confine: confine() }));
      expect(e.code).toBe("PATH_NOT_ALLOWED");
      expectNoLeak(e);
    }
  });

  it("reads links within the folder, and skips hidden and hard-to-see names", async () => {
    const source = await openFrameSource(at("frames-names"), { confine: confine() });
    expect(source.info.frames).toBe(3);
    await source.close();
  });

  it("refuses a frame folder of more frames than a source may serve, before reading one", async () => {
    const folder = join(root, "frames-many");
    mkdirSync(folder);
    writeFileSync(join(folder, "frame0.jpg"), small);
    for (let i = 1; i <= LIMITS.framesPerSession; i++) symlinkSync("frame0.jpg", join(folder, `frame${i}.jpg`));
    const started = performance.now();
    const e = await failure(openFrameSource(folder));
    expect(e.code).toBe("LIMIT_EXCEEDED");
    // counted from the names alone: no entry is resolved or decoded first
    expect(performance.now() - started).toBeLessThan(3000);
    rmSync(folder, { recursive: true, force: true });
  }, 180_000);

  it("refuses a truncated or corrupt image at open, never probing it as a video", async () => {
    for (const name of ["cut.jpg", "cut-unknown.bin", "cut", "not-a.png"]) {
      const e = await failure(openFrameSource(at(name), { confine: confine() }));
      expect(e.code).toBe("BAD_VIDEO");
      expectNoLeak(e);
    }
    const e = await failure(openFrameSource(at("cut-unknown.bin")));
    expect(e.message).toMatch(/truncated or corrupt/);
    expect((await failure(openFrameSource(at("frames-cut")))).code).toBe("BAD_VIDEO");
  });

  it("refuses folders, pipes and devices as images at once, without hanging", async () => {
    const fifo = at("pipe.jpg");
    const started = performance.now();
    for (const path of [allowed, fifo, "/dev/zero"]) {
      const e = await decodeImage(path).then(() => undefined, (error: unknown) => error as Sam3Error);
      expect(e?.code).toBe("BAD_IMAGE");
    }
    for (const path of [fifo, "/dev/zero"]) expect((await failure(openFrameSource(path))).code).toBe("BAD_VIDEO");
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it("refuses SVG, which can refer to other files", async () => {
    const e = await decodeImage(at("drawing.svg")).then(() => undefined, (error: unknown) => error as Sam3Error);
    expect(e?.code).toBe("BAD_IMAGE");
    expect(e?.message).toMatch(/not an image format that can be read/);
  });
});

/**
 * The bad-input corpus, test/security/corpus/media.json: an array of
 *   { name, face: "frames" | "segment" | "open", path?, rawPath?, confine?, maxPixels?, pack?, prompt?, code }
 * `path` is relative to the allowed folder built above (`rawPath` is passed as written); `confine` confines to
 * that folder; `pack` is an id of pack-files.ts's hostilePacks. "frames" opens a frame source, "segment" runs
 * Sam3.segment (a click unless `prompt` says otherwise) on the pack or the bundled one, "open" opens the pack.
 * Every case must fail with `code`, and the process must still work afterwards.
 */
interface CorpusCase {
  name: string;
  face: "frames" | "segment" | "open";
  path?: string;
  rawPath?: string;
  confine?: boolean;
  maxPixels?: number;
  pack?: string;
  prompt?: Parameters<Sam3["segment"]>[1];
  code: string;
}

describe("bad-input corpus", () => {
  const corpus = JSON.parse(readFileSync(join(__dirname, "corpus", "media.json"), "utf8")) as CorpusCase[];
  let packs: Record<string, string>;
  const handles = new Map<string, Sam3>();
  beforeAll(() => {
    packs = hostilePacks(join(root, "packs"));
  });
  afterAll(async () => {
    for (const sam of handles.values()) await sam.close();
  });

  async function sam(pack: string | undefined, confined: boolean): Promise<Sam3> {
    const key = `${pack}|${confined}`;
    if (!handles.has(key)) handles.set(key, await Sam3.open({ model: pack ? packs[pack] : undefined, confine: confined ? new Confinement([allowed]) : undefined }));
    return handles.get(key)!;
  }

  async function run(c: CorpusCase): Promise<unknown> {
    // as written, not normalised: a path the user gave may be named in errors, a resolved one may not
    const path = c.rawPath ?? `${allowed}/${c.path}`;
    const confine = c.confine ? new Confinement([allowed]) : undefined;
    if (c.face === "frames") return openFrameSource(path, { confine, maxPixels: c.maxPixels });
    if (c.face === "open") return Sam3.open({ model: packs[c.pack!] });
    return (await sam(c.pack, !!c.confine)).segment(path, c.prompt ?? { points: [{ x: 10, y: 10 }] });
  }

  it("has at least 15 cases", () => expect(corpus.length).toBeGreaterThanOrEqual(15));

  it.each(corpus.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const e = await failure(run(c) as Promise<unknown>);
    expect(e.code).toBe(c.code);
    expect(e.message).not.toContain("SECRET");
    expect(e.message).not.toContain(outside);
  });

  it("leaves the process working: a plain video, an image and the bundled pack still run", async () => {
    const source = await openFrameSource(at("plain.avi"), { confine: new Confinement([allowed]) });
    expect(source.info.frames).toBe(SMALL_VIDEO_FRAMES);
    await source.close();
    const result = await (await sam(undefined, true)).segment(at("plain.jpg"), { points: [{ x: 10, y: 10 }] });
    expect(result.image).toEqual({ width: 64, height: 48 });
  });
});
