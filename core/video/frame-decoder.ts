import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import type { Confinement } from "../confine";
import type { RgbImage } from "../image/decode";
import type { VideoInfo } from "./video-info";

/** Produces frames by index; the frame source around it caches them and shares runs between callers. */
export interface FrameDecoder {
  readonly info: VideoInfo;
  readonly decodeError?: string;
  /** Consecutive frames one decode should produce. */
  readonly chunkFrames: number;
  decode(first: number, count: number): Promise<RgbImage[]>;
  /** Stops the decodes in progress and waits until they have. */
  stop(): Promise<void>;
}

/** The frame source options, checked and with their defaults filled in. */
export interface DecodeSettings {
  maxSide: number;
  stride: number;
  cacheBytes: number;
  /** How errors name the source: never its resolved or temporary path. */
  label: string;
  /** Frames above this many pixels are refused before one is decoded. */
  maxPixels: number;
  /** The folders every file read must resolve into; unconfined when absent. */
  confine?: Confinement;
}

/** The size frames are served at: the source size, shrunk so that its longer side is at most maxSide. */
export function outputSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const longer = Math.max(width, height);
  if (longer <= maxSide) return { width, height };
  const scale = maxSide / longer;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Identity of the frames of one file at one output size: the file's path, modification time and length. */
export function fileKey(file: string, stats: Stats, width: number, height: number): string {
  return createHash("sha1").update(`${file}|${stats.mtimeMs}|${stats.size}|${width}x${height}`).digest("hex");
}
