import { rm } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { Sam3Error } from "../errors";
import { ffmpegCommand, startFfmpeg, type FfmpegRun } from "./ffmpeg";

export interface VideoWriterOptions {
  width: number;
  height: number;
  fps: number;
}

/** Encoder settings per container; H.264 4:2:0 needs even sizes, so odd ones get a pixel of padding. */
function codecArgs(extension: string, width: number, height: number): string[] | undefined {
  const even = width % 2 === 0 && height % 2 === 0 ? [] : ["-vf", `pad=${width + (width % 2)}:${height + (height % 2)}`];
  const h264 = [...even, "-c:v", "libx264", "-preset", "fast", "-crf", "18", "-pix_fmt", "yuv420p"];
  switch (extension) {
    case ".mp4":
    case ".mov":
      // the index first, so players can start before the whole file has arrived
      return [...h264, "-movflags", "+faststart"];
    case ".mkv":
      return h264;
    case ".webm":
      return ["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "5", "-row-mt", "1", "-b:v", "0", "-crf", "32", "-pix_fmt", "yuv420p"];
    case ".avi":
      return ["-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p"];
    default:
      return undefined;
  }
}

/** Encodes RGB frames into a video file with ffmpeg, reading raw rgb24 from a pipe. */
export class VideoWriter {
  private state: "open" | "closing" | "closed" | "finished" = "open";

  private constructor(
    readonly path: string,
    private readonly frameBytes: number,
    private readonly input: PassThrough,
    private readonly run: FfmpegRun,
  ) {}

  /** Starts ffmpeg; the codec follows the extension: .mp4 .mov .mkv (H.264), .webm (VP9), .avi (MPEG-4). */
  static async open(path: string, { width, height, fps }: VideoWriterOptions): Promise<VideoWriter> {
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
      throw new Sam3Error("BAD_OPTION", `video size must be positive integers, got ${width}x${height}`);
    }
    if (!(Number.isFinite(fps) && fps > 0)) throw new Sam3Error("BAD_OPTION", `fps must be a positive number, got ${fps}`);
    const codec = codecArgs(extname(path).toLowerCase(), width, height);
    if (!codec) throw new Sam3Error("BAD_OPTION", `cannot write ${path}: the extension must be .mp4, .mov, .mkv, .webm or .avi`);
    const frameBytes = width * height * 3;
    // room for one frame, so each write waits until ffmpeg has taken the previous one
    const input = new PassThrough({ highWaterMark: frameBytes });
    const command = ffmpegCommand()
      .input(input)
      .inputFormat("rawvideo")
      .inputOptions("-pix_fmt", "rgb24", "-s", `${width}x${height}`, "-framerate", String(fps))
      .outputOptions("-nostats", "-loglevel", "error", "-an", ...codec)
      .output(resolve(path));
    const writer = new VideoWriter(path, frameBytes, input, startFfmpeg(command, `writing ${path}`));
    await writer.run.started;
    return writer;
  }

  /** Queues one width x height x 3 RGB frame (copied, so the caller may reuse its buffer); waits while ffmpeg is behind. */
  async write(rgb: Uint8Array): Promise<void> {
    if (this.state !== "open") throw new Sam3Error("CLOSED", `the video writer for ${this.path} is closed`);
    if (rgb.length !== this.frameBytes) {
      throw new Sam3Error("BAD_OPTION", `a frame of ${this.path} must be ${this.frameBytes} bytes (width x height x 3), got ${rgb.length}`);
    }
    if (this.input.write(Buffer.from(rgb))) return;
    await new Promise<void>((resolve, reject) => {
      this.input.once("drain", resolve);
      // ffmpeg failing never drains the pipe: its error is the answer
      this.run.finished.then(
        () => undefined,
        (e: unknown) => {
          this.input.off("drain", resolve);
          reject(e);
        },
      );
    });
  }

  /** Ends the stream and waits for ffmpeg to finish the file; rejects with FFMPEG_FAILED and ffmpeg's last words. */
  async close(): Promise<void> {
    if (this.state === "open") {
      this.state = "closing";
      this.input.end();
    }
    try {
      await this.run.finished;
      this.state = "finished";
    } catch (e) {
      this.state = "closed";
      throw e;
    }
  }

  /** Kills ffmpeg and deletes the unfinished file (a finished one is kept); never rejects. */
  async abort(): Promise<void> {
    if (this.state === "finished") return;
    this.state = "closed";
    this.input.destroy();
    await this.run.kill();
    await rm(resolve(this.path), { force: true }).catch(() => undefined);
  }
}
