import { rename, rm } from "node:fs/promises";
import { basename, extname, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { asSam3Error, isSam3Error, Sam3Error } from "../errors";
import { partialName } from "../safe-write";
import { ffmpegCommand, startFfmpeg, type FfmpegRun } from "../ffmpeg";

export interface VideoWriterOptions {
  width: number;
  height: number;
  fps: number;
}

/**
 * Container and encoder settings per extension (the container is named, since the file is written under a
 * temporary name); H.264 4:2:0 needs even sizes, so odd ones get a pixel of padding.
 */
function codecArgs(extension: string, width: number, height: number): string[] | undefined {
  const even = width % 2 === 0 && height % 2 === 0 ? [] : ["-vf", `pad=${width + (width % 2)}:${height + (height % 2)}`];
  const h264 = [...even, "-c:v", "libx264", "-preset", "fast", "-crf", "18", "-pix_fmt", "yuv420p"];
  switch (extension) {
    case ".mp4":
    case ".mov":
      // the index first, so players can start before the whole file has arrived
      return ["-f", extension.slice(1), ...h264, "-movflags", "+faststart"];
    case ".mkv":
      return ["-f", "matroska", ...h264];
    case ".webm":
      return ["-f", "webm", "-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "5", "-row-mt", "1", "-b:v", "0", "-crf", "32", "-pix_fmt", "yuv420p"];
    case ".avi":
      return ["-f", "avi", "-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p"];
    default:
      return undefined;
  }
}

/** ffmpeg's words for a file-system failure, as the code and reason asSam3Error gives it. */
const WRITE_FAILURES: [RegExp, string][] = [
  [/No space left on device/i, "ENOSPC"],
  [/Disk quota exceeded/i, "EDQUOT"],
  [/Read-only file system/i, "EROFS"],
  [/Permission denied/i, "EACCES"],
  [/Not a directory/i, "ENOTDIR"],
  [/No such file or directory/i, "ENOENT"],
];

/** The file-system error code a line of ffmpeg's output reports, if any. */
const fileSystemCode = (line: string) => WRITE_FAILURES.find(([pattern]) => pattern.test(line))?.[1];

/**
 * An ffmpeg failure that is really the output's file system (seen in the error or earlier on stderr) becomes
 * WRITE_FAILED; the temporary path is not shown.
 */
function asWriteError(e: unknown, file: string, partial: string, seen?: string): Sam3Error {
  const message = (e as Error)?.message ?? "";
  const code = fileSystemCode(message) ?? seen;
  if (code) return asSam3Error(Object.assign(new Error(code), { code }), `writing ${file}`);
  if (isSam3Error(e)) return new Sam3Error(e.code, message.split(partial).join(file), { cause: e });
  return asSam3Error(e, `writing ${file}`);
}

/** Encodes RGB frames into a video file with ffmpeg, reading raw rgb24 from a pipe. */
export class VideoWriter {
  private state: "open" | "closing" | "closed" | "finished" = "open";

  private failure?: Sam3Error;

  private constructor(
    readonly path: string,
    private readonly partial: string,
    private readonly frameBytes: number,
    private readonly input: PassThrough,
    private readonly run: FfmpegRun,
    private readonly stderrFailure: () => string | undefined,
  ) {
    // a pipe that breaks when ffmpeg dies must not become an unhandled 'error' event
    input.on("error", () => undefined);
  }

  /** Starts ffmpeg; the codec follows the extension: .mp4 .mov .mkv (H.264), .webm (VP9), .avi (MPEG-4). */
  static async open(path: string, { width, height, fps }: VideoWriterOptions): Promise<VideoWriter> {
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
      throw new Sam3Error("BAD_OPTION", `video size must be positive integers, got ${width}x${height}`);
    }
    if (!(Number.isFinite(fps) && fps > 0)) throw new Sam3Error("BAD_OPTION", `fps must be a positive number, got ${fps}`);
    const codec = codecArgs(extname(path).toLowerCase(), width, height);
    if (!codec) throw new Sam3Error("BAD_OPTION", `cannot write ${basename(path)}: the extension must be .mp4, .mov, .mkv, .webm or .avi`);
    const partial = partialName(resolve(path));
    const frameBytes = width * height * 3;
    // room for one frame, so each write waits until ffmpeg has taken the previous one
    const input = new PassThrough({ highWaterMark: frameBytes });
    const command = ffmpegCommand()
      .input(input)
      .inputOptions("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${width}x${height}`, "-framerate", String(fps))
      .outputOptions("-nostats", "-loglevel", "error", "-an", ...codec)
      .output(partial);
    let seen: string | undefined;
    const run = startFfmpeg(command, `writing ${basename(path)}`, (line) => (seen ??= fileSystemCode(line)));
    const writer = new VideoWriter(path, partial, frameBytes, input, run, () => seen);
    try {
      await writer.run.started;
    } catch (e) {
      await writer.abort();
      throw writer.fail(e);
    }
    return writer;
  }

  /** Queues one width x height x 3 RGB frame (copied, so the caller may reuse its buffer); waits while ffmpeg is behind. */
  async write(rgb: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.state !== "open") throw new Sam3Error("CLOSED", `the video writer for ${basename(this.path)} is closed`);
    if (rgb.length !== this.frameBytes) {
      throw new Sam3Error("BAD_OPTION", `a frame of ${basename(this.path)} must be ${this.frameBytes} bytes (width x height x 3), got ${rgb.length}`);
    }
    if (this.input.write(Buffer.from(rgb))) return;
    await new Promise<void>((resolve, reject) => {
      this.input.once("drain", resolve);
      // ffmpeg failing never drains the pipe: its error is the answer
      this.run.finished.then(
        () => undefined,
        (e: unknown) => {
          this.input.off("drain", resolve);
          reject(this.fail(e));
        },
      );
    });
  }

  /**
   * Ends the stream, waits for ffmpeg to finish and renames the file into place; rejects with WRITE_FAILED (disk
   * full, no permission) or FFMPEG_FAILED, the unfinished file removed.
   */
  async close(): Promise<void> {
    if (this.state === "finished") return;
    if (this.state === "open") {
      this.state = "closing";
      this.input.end();
    }
    try {
      await this.run.finished;
      await rename(this.partial, resolve(this.path));
      this.state = "finished";
    } catch (e) {
      this.state = "closed";
      await rm(this.partial, { force: true }).catch(() => undefined);
      throw this.fail(e);
    }
  }

  /** Kills ffmpeg and deletes the unfinished file (a finished one is kept); never rejects. */
  async abort(): Promise<void> {
    if (this.state === "finished") return;
    this.state = "closed";
    this.input.destroy();
    await this.run.kill();
    await rm(this.partial, { force: true }).catch(() => undefined);
  }

  /** The first failure, kept so every later call reports the same typed error. */
  private fail(e: unknown): Sam3Error {
    // ffmpeg's last line is often a consequence; the file-system failure it reported before is the cause
    this.failure ??= asWriteError(e, basename(this.path), this.partial, this.stderrFailure());
    return this.failure;
  }
}
