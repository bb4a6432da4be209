// Video through ffmpeg: probing a file once for its frame count, frame times, size, codec and rate.

import { Sam3Error } from "../errors";
import { ffmpegCommand, passthroughSyncArgs, startFfmpeg } from "./ffmpeg";

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
export async function probeVideo(file: string): Promise<VideoProbe> {
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
