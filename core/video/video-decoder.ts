// Video through ffmpeg: decoding chunks of raw frames from a probed video file.

import { once } from "node:events";
import type { Stats } from "node:fs";
import { Writable } from "node:stream";
import { Sam3Error } from "../errors";
import type { RgbImage } from "../image/decode";
import { LIMITS } from "../limits";
import { describeFfmpeg, ffmpegCommand, inputArgs, passthroughSyncArgs, startFfmpeg, type FfmpegRun } from "../ffmpeg";
import { fileKey, outputSize, type DecodeSettings, type FrameDecoder } from "./frame-decoder";
import type { VideoInfo } from "./video-info";
import { probeVideo } from "./video-probe";

/** Frames decoded per ffmpeg run: one process start is shared by a chunk small enough to hold in memory. */
const CHUNK_FRAMES = 16;
/** How many frames of this size a chunk holds: at most what the cache can keep, at least one. */
const chunkFramesFor = (frameBytes: number, cacheBytes: number) => Math.max(1, Math.min(CHUNK_FRAMES, Math.floor(cacheBytes / frameBytes)));

export async function openVideo(file: string, stats: Stats, settings: DecodeSettings): Promise<FrameDecoder> {
  const { label, maxPixels, stride } = settings;
  const probe = await probeVideo(file, { label, maxPixels, maxFrames: LIMITS.framesPerSession * stride });
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
    decoder: `${probe.codec} via ${describeFfmpeg()}`,
  };
  return new VideoDecoder(info, {
    file,
    label,
    maxPixels,
    frameTimes: probe.frameTimes,
    stride: settings.stride,
    chunkFrames: chunkFramesFor(width * height * 3, settings.cacheBytes),
    keyBase: `frame:${fileKey(file, stats, width, height)}`,
    decodeError: probe.decodeError,
  });
}

interface VideoPlan {
  file: string;
  /** How errors name the file. */
  label: string;
  maxPixels: number;
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
    const { file, label, maxPixels, frameTimes, stride, keyBase } = this.plan;
    const { width, height, sourceWidth, sourceHeight } = this.info;
    const sourceFirst = first * stride;
    const downscaled = width !== sourceWidth || height !== sourceHeight;
    const filters = [...(stride > 1 ? [`select=not(mod(n\\,${stride}))`] : []), `scale=${width}:${height}${downscaled ? ":flags=area" : ""}`];
    const sink = new FrameSink(width * height * 3, count);
    const { input, options } = inputArgs(file, maxPixels);
    const command = ffmpegCommand().input(input).inputOptions(...options);
    if (sourceFirst > 0) {
      const [before, at] = [frameTimes[sourceFirst - 1], frameTimes[sourceFirst]];
      command.inputOptions("-ss", (at - (at - before) / 3).toFixed(6));
    }
    command
      .outputOptions("-nostdin", "-nostats", "-loglevel", "error", "-map", "0:v:0", "-vf", filters.join(","), ...passthroughSyncArgs())
      .outputOptions("-frames:v", String(count), "-pix_fmt", "rgb24", "-f", "rawvideo")
      .output(sink);
    const run = startFfmpeg(command, `decoding frames ${first}..${first + count - 1} of ${label}`);
    this.running.add(run);
    try {
      await Promise.all([run.finished, once(sink, "finish")]);
    } finally {
      this.running.delete(run);
    }
    if (sink.frames.length < count) {
      throw new Sam3Error("FFMPEG_FAILED", `decoding frames ${first}..${first + count - 1} of ${label}: ffmpeg returned ${sink.frames.length} of ${count} frames`);
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
    super();
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
