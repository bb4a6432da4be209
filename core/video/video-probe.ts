// Video through ffmpeg: checking a file's container and frame size from its headers, then probing it once for
// its frame count, frame times, size, codec and rate.

import { execFile } from "node:child_process";
import { Sam3Error } from "../errors";
import { LIMITS } from "../limits";
import { ffmpegCommand, findFfmpeg, inputArgs, INPUT_FORMATS, passthroughSyncArgs, sanitizeLogLine, startFfmpeg } from "../ffmpeg";

/** What a probe may accept: `label` names the file in errors (never its resolved or temporary path). */
export interface ProbeLimits {
  label: string;
  maxPixels: number;
  /** Source frames (before stride) beyond which the video is refused. */
  maxFrames: number;
}

export interface VideoProbe {
  codec: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  /** Seconds from the file's start of every frame, as decoded. */
  frameTimes: Float64Array;
  decodeError?: string;
}

/**
 * Decodes the whole first video stream once (no output, so no ffprobe needed): the exact frame count, the time of
 * every frame, the size ffmpeg outputs (rotation applied), the codec, the frame rate and whether any of it failed.
 */
export async function probeVideo(file: string, limits: ProbeLimits): Promise<VideoProbe> {
  await checkHeader(file, limits);
  const { label, maxPixels, maxFrames } = limits;
  const log = new ProbeLog();
  const { input, options } = inputArgs(file, maxPixels);
  // one frame past the limit is enough to know the video is over it
  const command = ffmpegCommand()
    .input(input)
    .inputOptions(...options)
    .outputOptions("-nostdin", "-nostats", "-loglevel", "level+info", "-map", "0:v:0", "-vf", PRINT_FRAME_TIMES, ...passthroughSyncArgs())
    .outputOptions("-frames:v", String(maxFrames + 1), "-f", "null")
    .output("-");
  const failure = await startFfmpeg(command, `reading ${label}`, (line) => log.feed(line)).finished.then(
    () => undefined,
    (e: unknown) => e,
  );
  // a failure the log does not blame on the input (killed, crashed) is ffmpeg's, not the video's
  if (failure && !log.firstError) throw failure;
  const reason = log.firstError;
  if (log.frames === 0 || !log.width || !log.height) {
    const why = /matches no streams/.test(reason ?? "") ? "it has no video stream" : (reason ?? "no frame decodes");
    throw new Sam3Error("BAD_VIDEO", `${label} is not a readable video (${why})`);
  }
  if (log.frames > maxFrames) throw tooManyFrames(label, maxFrames);
  if (log.width * log.height > maxPixels) throw tooManyPixels(label, log.width, log.height, maxPixels);
  const fps = log.frameRate();
  return {
    codec: log.codec ?? "video",
    width: log.width,
    height: log.height,
    fps,
    frames: log.frames,
    frameTimes: log.frameTimes(fps),
    decodeError: reason ? `${label} is truncated or partly corrupt: ${log.frames} frames decode (${reason})` : undefined,
  };
}

/** How long the header pass may take: it reads headers only, so anything slower is stuck. */
const HEADER_TIMEOUT_MS = 30_000;
/** The header pass's log is a few kB; a file whose metadata fills more is not read. */
const HEADER_LOG_BYTES = 1 << 20;

/**
 * ffmpeg on the input alone, with no output: it reads the container's headers (and at most the first packets it
 * needs for the stream parameters, with decoders capped at maxPixels) and prints what it found. Containers that
 * are not single files and frames above the pixel limit are refused here, before any frame is decoded.
 */
async function checkHeader(file: string, { label, maxPixels, maxFrames }: ProbeLimits): Promise<void> {
  const { input, options } = inputArgs(file, maxPixels);
  const lines = await headerLog(["-hide_banner", "-nostdin", ...options, "-i", input], label);
  const refused = lines.map((l) => /^\[([\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist/i.exec(l)?.[1]).find(Boolean);
  if (refused) throw notSingleFile(label, refused);
  const oversized = lines.map((l) => /Picture size (\d+)x(\d+) exceeds/.exec(l)).find(Boolean);
  if (oversized) throw tooManyPixels(label, +oversized[1], +oversized[2], maxPixels);
  const container = lines.map((l) => /^Input #0, ([\w,]+), from /.exec(l)?.[1]).find(Boolean);
  if (!container) {
    const reason = [...lines].reverse().find((l) => !/^At least one output file/.test(l));
    throw new Sam3Error("BAD_VIDEO", `${label} is not a readable video (${reason ? sanitizeLogLine(reason) : "ffmpeg cannot open it"})`);
  }
  // the whitelist already refused these; checked again so a build that ignores it cannot slip one through
  if (!container.split(",").some((name) => INPUT_FORMATS.includes(name))) throw notSingleFile(label, container);
  const stream = lines.map((l) => /^Stream #0:\d+.*?: Video: (.*)$/.exec(l)?.[1]).find(Boolean);
  if (!stream) throw new Sam3Error("BAD_VIDEO", `${label} is not a readable video (it has no video stream)`);
  const size = /, (\d+)x(\d+)/.exec(stream);
  if (size && +size[1] * +size[2] > maxPixels) throw tooManyPixels(label, +size[1], +size[2], maxPixels);
  // the header's duration and rate estimate the count; the probe counts exactly, so only a clear excess stops here
  const duration = lines.map((l) => /^Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(l)).find(Boolean);
  const fps = parseRate(/([\d.]+k?) fps/.exec(stream)?.[1]);
  const seconds = duration ? +duration[1] * 3600 + +duration[2] * 60 + +duration[3] : 0;
  if (fps && seconds * fps > maxFrames * 1.1 + 10) throw tooManyFrames(label, maxFrames);
}

/** The trimmed lines ffmpeg prints for an input-only run (it exits 1: no output was given). */
function headerLog(args: string[], label: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(findFfmpeg().path, args, { timeout: HEADER_TIMEOUT_MS, maxBuffer: HEADER_LOG_BYTES, killSignal: "SIGKILL" }, (error, _stdout, stderr) => {
      const failure = error as (NodeJS.ErrnoException & { killed?: boolean }) | null;
      if (failure?.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") reject(new Sam3Error("BAD_VIDEO", `${label} is not a readable video (its headers are too large)`));
      else if (failure?.killed) reject(new Sam3Error("TIMEOUT", `reading the headers of ${label} took over ${HEADER_TIMEOUT_MS / 1000} s`));
      else if (failure && typeof failure.code === "string") reject(new Sam3Error("FFMPEG_FAILED", `ffmpeg could not be started to read ${label} (${failure.code})`));
      else resolve(String(stderr).split("\n").map((l) => l.trim()).filter(Boolean));
    });
  });
}

/** What a refused ffmpeg format is, in the words of the error. */
function formatKind(format: string): string {
  const names = format.split(",");
  if (names.includes("hls") || names.includes("applehttp")) return "a playlist (HLS)";
  if (names.includes("concat")) return "a list of files (concat)";
  if (names.some((n) => n.startsWith("image2") || n.endsWith("_pipe"))) return "an image or image sequence that is not read as a video";
  return `a kind of input that is not read (${format})`;
}

const notSingleFile = (label: string, format: string) =>
  new Sam3Error("BAD_VIDEO", `${label} is ${formatKind(format)}; only single video files are read (MP4, MOV, MKV, WebM, AVI, MPEG, TS, WMV, FLV, OGV, GIF)`);

const tooManyPixels = (label: string, width: number, height: number, maxPixels: number) =>
  new Sam3Error("LIMIT_EXCEEDED", `${label} has ${width}x${height} frames, over the limit of ${maxPixels.toLocaleString("en")} pixels a frame: downscale the video first`);

const tooManyFrames = (label: string, maxFrames: number) =>
  new Sam3Error(
    "LIMIT_EXCEEDED",
    `${label} has more than ${maxFrames.toLocaleString("en")} frames, more than the ${LIMITS.framesPerSession.toLocaleString("en")} a source may serve after stride: cut it, or read every Nth frame (stride)`,
  );

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
    if (level === "panic" || level === "fatal" || level === "error") this.firstError ??= sanitizeLogLine(text);
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
    // ffmpeg 5 evaluates the filter once more at the end of the stream: one time more than frames
    const logged = this.times.slice(0, this.frames);
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
