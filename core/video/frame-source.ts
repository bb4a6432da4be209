import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { Writable } from "node:stream";
import sharp from "sharp";
import { Sam3Error, isSam3Error } from "../errors";
import { decodeImage, type RgbImage } from "../image/decode";
import { ffmpegCommand, findFfmpeg, passthroughSyncArgs, startFfmpeg, type FfmpegRun } from "./ffmpeg";

export interface VideoInfo {
  kind: "video" | "frames" | "image";
  /** Frames served (after stride). */
  frames: number;
  /** Size of the frames served (after maxSide). */
  width: number;
  height: number;
  sourceWidth: number;
  sourceHeight: number;
  /** Rate of the frames served (after stride). */
  fps: number;
  durationSeconds: number;
  /** What decodes the frames, e.g. "h264 (ffmpeg 4.1.0)" or "png (sharp)". */
  decoder: string;
}

export interface FrameSource {
  readonly path: string;
  readonly info: VideoInfo;
  /** Set when the video is truncated or partly unreadable: the frames counted in info.frames still decode. */
  readonly decodeError?: string;
  /** The frame at an index; the image may be shared with the cache, so it must not be modified. */
  readFrame(index: number, direction?: "forward" | "backward"): Promise<RgbImage>;
  /** Bytes held by the frame cache now. */
  cachedBytes(): number;
  close(): Promise<void>;
}

export interface FrameSourceOptions {
  /** Downscale frames whose longer side exceeds this many pixels (aspect kept). */
  maxSide?: number;
  /** Serve every Nth source frame only: frame i is source frame i * stride. */
  stride?: number;
  /** Budget of the decoded-frame cache (default 256 MB). */
  cacheBytes?: number;
}

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
/** Frames decoded per ffmpeg run: one process start is shared by a chunk small enough to hold in memory. */
const CHUNK_FRAMES = 16;
/** A folder of frames or an image has no frame rate of its own; a video written from it plays at this one. */
const STILL_FPS = 30;
// an animated GIF is a video: ffmpeg decodes every frame where sharp would read the first
const VIDEO_EXTENSIONS = new Set([".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".gif"]);
const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".avif", ".heic", ".heif"]);
const FRAME_EXTENSIONS = new Set([".jpg", ".jpeg", ".png"]);
const naturalOrder = new Intl.Collator("en", { numeric: true }).compare;

/** Opens a video file, a folder of JPEG / PNG frames or a single image as a sequence of RGB frames. */
export async function openFrameSource(path: string, options: FrameSourceOptions = {}): Promise<FrameSource> {
  const settings = checkOptions(options);
  const file = resolve(path);
  let stats: Stats;
  try {
    stats = await stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Sam3Error("BAD_VIDEO", code === "ENOENT" ? `video not found: ${path}` : `cannot read ${path}: ${(e as Error).message}`);
  }
  const decoder = stats.isDirectory() ? await openFrameFolder(file, settings) : await openFile(file, stats, settings);
  return new DecodingFrameSource(path, decoder, settings.cacheBytes);
}

interface Settings {
  maxSide: number;
  stride: number;
  cacheBytes: number;
}

function checkOptions({ maxSide, stride, cacheBytes }: FrameSourceOptions): Settings {
  if (maxSide !== undefined && !(Number.isInteger(maxSide) && maxSide > 0)) throw new Sam3Error("BAD_OPTION", `maxSide must be a positive integer, got ${maxSide}`);
  if (stride !== undefined && !(Number.isInteger(stride) && stride > 0)) throw new Sam3Error("BAD_OPTION", `stride must be a positive integer, got ${stride}`);
  if (cacheBytes !== undefined && !(Number.isFinite(cacheBytes) && cacheBytes >= 0)) throw new Sam3Error("BAD_OPTION", `cacheBytes must be a number >= 0, got ${cacheBytes}`);
  return { maxSide: maxSide ?? Infinity, stride: stride ?? 1, cacheBytes: cacheBytes ?? DEFAULT_CACHE_BYTES };
}

/** The size frames are served at: the source size, shrunk so that its longer side is at most maxSide. */
function outputSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const longer = Math.max(width, height);
  if (longer <= maxSide) return { width, height };
  const scale = maxSide / longer;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Produces frames by index; the frame source around it caches them and shares runs between callers. */
interface FrameDecoder {
  readonly info: VideoInfo;
  readonly decodeError?: string;
  /** Consecutive frames one decode should produce. */
  readonly chunkFrames: number;
  decode(first: number, count: number): Promise<RgbImage[]>;
  /** Stops the decodes in progress and waits until they have. */
  stop(): Promise<void>;
}

/** A decode in progress: frames [first, first + count). */
interface Chunk {
  first: number;
  count: number;
  frames: Promise<RgbImage[]>;
}

class DecodingFrameSource implements FrameSource {
  private readonly cache: FrameCache;
  private readonly chunks = new Set<Chunk>();
  private closed = false;

  constructor(
    readonly path: string,
    private readonly decoder: FrameDecoder,
    cacheBytes: number,
  ) {
    this.cache = new FrameCache(cacheBytes);
  }

  get info(): VideoInfo {
    return this.decoder.info;
  }

  get decodeError(): string | undefined {
    return this.decoder.decodeError;
  }

  async readFrame(index: number, direction: "forward" | "backward" = "forward"): Promise<RgbImage> {
    if (this.closed) throw this.closedError();
    const { frames } = this.info;
    if (!Number.isInteger(index) || index < 0 || index >= frames) {
      throw new Sam3Error("BAD_REQUEST", `frame ${index} is out of range: ${this.path} has frames 0..${frames - 1}`);
    }
    const cached = this.cache.get(index);
    if (cached) return cached;
    const chunk = [...this.chunks].find((c) => index >= c.first && index < c.first + c.count) ?? this.startChunk(index, direction);
    let decoded: RgbImage[];
    try {
      decoded = await chunk.frames;
    } catch (e) {
      throw this.closed ? this.closedError() : e;
    }
    if (this.closed) throw this.closedError();
    return decoded[index - chunk.first];
  }

  cachedBytes(): number {
    return this.cache.bytes;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.decoder.stop();
    this.cache.clear();
  }

  /** A chunk starting at index going forward, or ending at it going backward. */
  private startChunk(index: number, direction: "forward" | "backward"): Chunk {
    const size = this.decoder.chunkFrames;
    const first = direction === "backward" ? Math.max(0, index - size + 1) : index;
    const count = direction === "backward" ? index - first + 1 : Math.min(size, this.info.frames - index);
    const frames = this.decoder.decode(first, count).then((decoded) => {
      // kept in reading order, so the frames read last are the last evicted
      const order = direction === "backward" ? [...decoded.keys()].reverse() : [...decoded.keys()];
      if (!this.closed) for (const k of order) this.cache.put(first + k, decoded[k]);
      return decoded;
    });
    const chunk = { first, count, frames };
    this.chunks.add(chunk);
    frames.then(
      () => this.chunks.delete(chunk),
      () => this.chunks.delete(chunk),
    );
    return chunk;
  }

  private closedError(): Sam3Error {
    return new Sam3Error("CLOSED", `the frame source ${this.path} is closed`);
  }
}

/** Least-recently-used frames within a byte budget; a frame larger than the whole budget is not kept. */
class FrameCache {
  private readonly frames = new Map<number, RgbImage>();
  bytes = 0;

  constructor(private readonly budget: number) {}

  get(index: number): RgbImage | undefined {
    const frame = this.frames.get(index);
    if (frame) {
      this.frames.delete(index);
      this.frames.set(index, frame);
    }
    return frame;
  }

  put(index: number, frame: RgbImage): void {
    const size = frame.data.length;
    if (size > this.budget) return;
    this.remove(index);
    while (this.bytes + size > this.budget) this.remove(this.frames.keys().next().value!);
    this.frames.set(index, frame);
    this.bytes += size;
  }

  clear(): void {
    this.frames.clear();
    this.bytes = 0;
  }

  private remove(index: number): void {
    const frame = this.frames.get(index);
    if (!frame) return;
    this.frames.delete(index);
    this.bytes -= frame.data.length;
  }
}

/** Identity of the frames of one file at one output size: the file's path, modification time and length. */
function fileKey(file: string, stats: Stats, width: number, height: number): string {
  return createHash("sha1").update(`${file}|${stats.mtimeMs}|${stats.size}|${width}x${height}`).digest("hex");
}

/** How many frames of this size a chunk holds: at most what the cache can keep, at least one. */
const chunkFramesFor = (frameBytes: number, cacheBytes: number) => Math.max(1, Math.min(CHUNK_FRAMES, Math.floor(cacheBytes / frameBytes)));

// ---------------------------------------------------------------- files: video or image

async function openFile(file: string, stats: Stats, settings: Settings): Promise<FrameDecoder> {
  const extension = extname(file).toLowerCase();
  if (IMAGE_EXTENSIONS.has(extension)) return openStills("image", file, [file], settings);
  if (VIDEO_EXTENSIONS.has(extension)) return openVideo(file, stats, settings);
  // an unknown extension: the content decides, images first because sharp only reads the header
  try {
    return await openStills("image", file, [file], settings);
  } catch {
    return openVideo(file, stats, settings);
  }
}

// ---------------------------------------------------------------- stills: a folder of frames or one image

async function openFrameFolder(folder: string, settings: Settings): Promise<FrameDecoder> {
  const entries = await readdir(folder, { withFileTypes: true });
  const files = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith(".") && FRAME_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(naturalOrder)
    .map((name) => join(folder, name));
  if (files.length === 0) throw new Sam3Error("BAD_VIDEO", `no JPEG or PNG frames in the folder ${folder}`);
  return openStills("frames", folder, files, settings);
}

async function openStills(kind: "frames" | "image", path: string, files: string[], settings: Settings): Promise<FrameDecoder> {
  let header: sharp.Metadata;
  try {
    header = await sharp(files[0]).metadata();
  } catch (e) {
    throw new Sam3Error("BAD_VIDEO", `${files[0]} is neither a video nor an image that can be read (${(e as Error).message})`);
  }
  // EXIF orientations 5 to 8 turn the image a quarter, and decodeImage applies them
  const turned = (header.orientation ?? 1) >= 5;
  const sourceWidth = turned ? header.height! : header.width!;
  const sourceHeight = turned ? header.width! : header.height!;
  const { width, height } = outputSize(sourceWidth, sourceHeight, settings.maxSide);
  const frames = Math.ceil(files.length / settings.stride);
  const info: VideoInfo = {
    kind,
    frames,
    width,
    height,
    sourceWidth,
    sourceHeight,
    fps: STILL_FPS / settings.stride,
    durationSeconds: files.length / STILL_FPS,
    decoder: `${header.format} (sharp)`,
  };
  return new StillsDecoder(info, path, files, settings.stride);
}

class StillsDecoder implements FrameDecoder {
  /** Each file decodes on its own. */
  readonly chunkFrames = 1;

  constructor(
    readonly info: VideoInfo,
    private readonly path: string,
    private readonly files: string[],
    private readonly stride: number,
  ) {}

  decode(first: number, count: number): Promise<RgbImage[]> {
    return Promise.all(Array.from({ length: count }, (_, k) => this.decodeOne(first + k)));
  }

  async stop(): Promise<void> {}

  private async decodeOne(index: number): Promise<RgbImage> {
    const file = this.files[index * this.stride];
    const { width, height, sourceWidth, sourceHeight } = this.info;
    let image: RgbImage;
    let stats: Stats;
    try {
      [image, stats] = await Promise.all([decodeImage(file), stat(file)]);
    } catch (e) {
      throw isSam3Error(e) ? new Sam3Error("BAD_VIDEO", e.message, { cause: e }) : new Sam3Error("BAD_VIDEO", `cannot read ${file}: ${(e as Error).message}`);
    }
    if (image.width !== sourceWidth || image.height !== sourceHeight) {
      throw new Sam3Error("BAD_VIDEO", `${file} is ${image.width}x${image.height} but the frames of ${this.path} are ${sourceWidth}x${sourceHeight}`);
    }
    const data =
      width === sourceWidth && height === sourceHeight
        ? image.data
        : await sharp(image.data, { raw: { width: sourceWidth, height: sourceHeight, channels: 3 } }).resize(width, height, { fit: "fill" }).raw().toBuffer();
    return { width, height, data, key: `frame:${fileKey(file, stats, width, height)}` };
  }
}

// ---------------------------------------------------------------- video through ffmpeg

interface VideoProbe {
  codec: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  /** Seconds from the file's start of every frame, as decoded. */
  frameTimes: Float64Array;
  decodeError?: string;
}

async function openVideo(file: string, stats: Stats, settings: Settings): Promise<FrameDecoder> {
  const probe = await probeVideo(file);
  const { width, height } = outputSize(probe.width, probe.height, settings.maxSide);
  const info: VideoInfo = {
    kind: "video",
    frames: Math.ceil(probe.frames / settings.stride),
    width,
    height,
    sourceWidth: probe.width,
    sourceHeight: probe.height,
    fps: probe.fps / settings.stride,
    durationSeconds: probe.frames / probe.fps,
    decoder: `${probe.codec} (ffmpeg ${findFfmpeg().version})`,
  };
  return new VideoDecoder(info, {
    file,
    frameTimes: probe.frameTimes,
    stride: settings.stride,
    chunkFrames: chunkFramesFor(width * height * 3, settings.cacheBytes),
    keyBase: `frame:${fileKey(file, stats, width, height)}`,
    decodeError: probe.decodeError,
  });
}

/**
 * Decodes the whole first video stream once (no output, so no ffprobe needed): the exact frame count, the time of
 * every frame, the size ffmpeg outputs (rotation applied), the codec, the frame rate and whether any of it failed.
 */
async function probeVideo(file: string): Promise<VideoProbe> {
  const log = new ProbeLog();
  const command = ffmpegCommand()
    .input(file)
    .outputOptions("-nostdin", "-nostats", "-loglevel", "level+info", "-map", "0:v:0", "-vf", PRINT_FRAME_TIMES, ...passthroughSyncArgs(), "-f", "null")
    .output("-");
  const failure = await startFfmpeg(command, `reading ${file}`, (line) => log.feed(line)).finished.then(
    () => undefined,
    (e: unknown) => e,
  );
  // a failure the log does not blame on the input (killed, crashed) is ffmpeg's, not the video's
  if (failure && !log.firstError) throw failure;
  const reason = log.firstError;
  if (log.frames === 0 || !log.width || !log.height) {
    const why = /matches no streams/.test(reason ?? "") ? "it has no video stream" : (reason ?? "no frame decodes");
    throw new Sam3Error("BAD_VIDEO", `${file} is not a readable video (${why})`);
  }
  const fps = log.frameRate();
  return {
    codec: log.codec ?? "video",
    width: log.width,
    height: log.height,
    fps,
    frames: log.frames,
    frameTimes: log.frameTimes(fps),
    decodeError: reason ? `${file} is truncated or partly corrupt: ${log.frames} frames decode (${reason})` : undefined,
  };
}

/** Logs the time of each frame in seconds, 6 decimals, and changes nothing (showinfo would also checksum every frame). */
const PRINT_FRAME_TIMES = "setpts=PTS+0*print(T)";

/** What the probe learns from ffmpeg's log, line by line (`-loglevel level+info` tags each line with its level). */
class ProbeLog {
  codec?: string;
  width?: number;
  height?: number;
  frames = 0;
  firstError?: string;
  private readonly times: number[] = [];
  private section: "input" | "output" | "other" = "other";
  private fps?: number;
  private durationSeconds?: number;

  feed(line: string): void {
    const tagged = /\[(panic|fatal|error|warning|info|verbose|debug|trace)\] (.*)$/.exec(line);
    const [level, text] = tagged ? [tagged[1], tagged[2].trim()] : ["info", line.trim()];
    if (level === "panic" || level === "fatal" || level === "error") this.firstError ??= text;
    if (text.startsWith("Input #0")) this.section = "input";
    else if (text.startsWith("Output #0")) this.section = "output";
    else if (text.startsWith("Stream mapping")) this.section = "other";
    const duration = /^Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(text);
    if (duration && this.section === "input") this.durationSeconds = +duration[1] * 3600 + +duration[2] * 60 + +duration[3];
    const video = /^Stream #0:\d+.*?: Video: (.*)$/.exec(text);
    if (video && this.section === "input" && this.codec === undefined) {
      this.codec = /^\w+/.exec(video[1])?.[0];
      this.fps = parseRate(/([\d.]+k?) fps/.exec(video[1])?.[1]);
    }
    // the output stream's size is the decoded one, after rotation metadata is applied
    const size = video && this.section === "output" ? /, (\d+)x(\d+)/.exec(video[1]) : null;
    if (size && this.width === undefined) [this.width, this.height] = [+size[1], +size[2]];
    const progress = /^frame=\s*(\d+)/.exec(text);
    if (progress) this.frames = +progress[1];
    if (/^(-?\d+\.\d+|-?nan|-?inf)$/.test(text)) this.times.push(Number(text));
  }

  /** The logged frame times when they are one per frame and increasing, else (frames without timestamps) a constant rate. */
  frameTimes(fps: number): Float64Array {
    const logged = this.times;
    const usable = logged.length === this.frames && logged.every((t, i) => Number.isFinite(t) && (i === 0 || t > logged[i - 1]));
    return usable ? Float64Array.from(logged) : Float64Array.from({ length: this.frames }, (_, i) => i / fps);
  }

  /** The container's average rate, else frames over its duration, else the rate the frame times show, else 25. */
  frameRate(): number {
    if (this.fps) return this.fps;
    if (this.durationSeconds) return this.frames / this.durationSeconds;
    const span = this.times.length > 1 ? this.times[this.times.length - 1] - this.times[0] : 0;
    return span > 0 ? (this.times.length - 1) / span : 25;
  }
}

/** ffmpeg prints rates rounded to 2 decimals ("29.97") or in thousands ("1k"); NTSC rates are restored exactly. */
function parseRate(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const rate = text.endsWith("k") ? parseFloat(text) * 1000 : parseFloat(text);
  if (!(rate > 0)) return undefined;
  const whole = Math.round(rate * 1.001);
  const ntsc = whole / 1.001;
  return Math.abs(rate - whole) > 0.005 && Math.abs(rate - ntsc) < 0.006 ? ntsc : rate;
}

interface VideoPlan {
  file: string;
  frameTimes: Float64Array;
  stride: number;
  chunkFrames: number;
  keyBase: string;
  decodeError?: string;
}

class VideoDecoder implements FrameDecoder {
  readonly chunkFrames: number;
  readonly decodeError?: string;
  private readonly running = new Set<FfmpegRun>();

  constructor(
    readonly info: VideoInfo,
    private readonly plan: VideoPlan,
  ) {
    this.chunkFrames = plan.chunkFrames;
    this.decodeError = plan.decodeError;
  }

  /**
   * One ffmpeg run: accurate input seeking, then `count` frames as raw RGB on a pipe. The seek lands a third of
   * the way back from the chunk's first frame to the frame before (by the probed times), so the first frame
   * ffmpeg keeps is the chunk's at constant and variable frame rates alike: ffmpeg rounds the seek to the stream's
   * time base, whose tick can be a whole frame (AVI), and a halfway seek would then be a coin toss.
   */
  async decode(first: number, count: number): Promise<RgbImage[]> {
    const { file, frameTimes, stride, keyBase } = this.plan;
    const { width, height, sourceWidth, sourceHeight } = this.info;
    const sourceFirst = first * stride;
    const downscaled = width !== sourceWidth || height !== sourceHeight;
    const filters = [...(stride > 1 ? [`select=not(mod(n\\,${stride}))`] : []), `scale=${width}:${height}${downscaled ? ":flags=area" : ""}`];
    const sink = new FrameSink(width * height * 3, count);
    const command = ffmpegCommand().input(file);
    if (sourceFirst > 0) {
      const [before, at] = [frameTimes[sourceFirst - 1], frameTimes[sourceFirst]];
      command.inputOptions("-ss", (at - (at - before) / 3).toFixed(6));
    }
    command
      .outputOptions("-nostdin", "-nostats", "-loglevel", "error", "-map", "0:v:0", "-vf", filters.join(","), ...passthroughSyncArgs())
      .outputOptions("-frames:v", String(count), "-pix_fmt", "rgb24", "-f", "rawvideo")
      .output(sink);
    const run = startFfmpeg(command, `decoding frames ${first}..${first + count - 1} of ${file}`);
    this.running.add(run);
    try {
      await Promise.all([run.finished, once(sink, "finish")]);
    } finally {
      this.running.delete(run);
    }
    if (sink.frames.length < count) {
      throw new Sam3Error("FFMPEG_FAILED", `decoding frames ${first}..${first + count - 1} of ${file}: ffmpeg returned ${sink.frames.length} of ${count} frames`);
    }
    return sink.frames.map((data, k) => ({ width, height, data, key: `${keyBase}:${(first + k) * stride}` }));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.running].map((run) => run.kill()));
  }
}

/** Cuts ffmpeg's raw output into one buffer per frame (separate, so a cached frame holds no other frame's bytes). */
class FrameSink extends Writable {
  readonly frames: Buffer[] = [];
  private current?: Buffer;
  private filled = 0;

  constructor(
    private readonly frameBytes: number,
    private readonly wanted: number,
  ) {
    // no 'close' event: fluent-ffmpeg would take it for an early end and kill ffmpeg before its exit is seen
    super({ emitClose: false });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    let at = 0;
    while (at < chunk.length && this.frames.length < this.wanted) {
      this.current ??= Buffer.allocUnsafe(this.frameBytes);
      const copied = chunk.copy(this.current, this.filled, at, at + this.frameBytes - this.filled);
      at += copied;
      this.filled += copied;
      if (this.filled === this.frameBytes) {
        this.frames.push(this.current);
        this.current = undefined;
        this.filled = 0;
      }
    }
    done();
  }
}
