/** What a frame source serves: its kind, frame count, size and rate. */
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
