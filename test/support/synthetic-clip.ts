import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { REPO } from "./reference";

/** test/reference/video_clip.json: the synthetic clip of the video tracking references (its description states the rules). */
export interface ClipSpec {
  width: number;
  height: number;
  frames: number;
  background: [number, number, number];
  shapes: ClipShape[];
}

export interface ClipShape {
  name: string;
  kind: "rectangle" | "ellipse";
  colour: [number, number, number];
  size: [number, number];
  /** [frame, x, y]: the top-left corner of the shape's box on that frame */
  keyframes: [number, number, number][];
}

export interface ClipFrame {
  width: number;
  height: number;
  /** RGB, row-major, 3 bytes a pixel */
  data: Uint8Array;
}

export const CLIP_SPEC = join(REPO, "test", "reference", "video_clip.json");

export function loadClipSpec(path = CLIP_SPEC): ClipSpec {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** The shape's top-left corner on frame t: linear between keyframes, floored (as models/export/sam3_export/clip.py). */
export function shapePosition(keyframes: ClipShape["keyframes"], t: number): [number, number] {
  const [first] = keyframes;
  if (t <= first[0]) return [first[1], first[2]];
  for (let k = 1; k < keyframes.length; k++) {
    const [t0, x0, y0] = keyframes[k - 1];
    const [t1, x1, y1] = keyframes[k];
    if (t <= t1) return [x0 + Math.floor(((x1 - x0) * (t - t0)) / (t1 - t0)), y0 + Math.floor(((y1 - y0) * (t - t0)) / (t1 - t0))];
  }
  const last = keyframes[keyframes.length - 1];
  return [last[1], last[2]];
}

/** Whether pixel (px, py) is inside an ellipse's box [x, x + w) x [y, y + h), in integers only. */
const inEllipse = (px: number, py: number, x: number, y: number, w: number, h: number) =>
  (2 * px + 1 - 2 * x - w) ** 2 * h * h + (2 * py + 1 - 2 * y - h) ** 2 * w * w <= w * w * h * h;

/** Frame t of the clip. */
export function renderClip(spec: ClipSpec, t: number): ClipFrame {
  const { width, height } = spec;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(spec.background, i);
  for (const shape of spec.shapes) {
    if (shape.kind !== "rectangle" && shape.kind !== "ellipse") throw new Error(`unknown shape kind ${shape.kind}`);
    const [x, y] = shapePosition(shape.keyframes, t);
    const [w, h] = shape.size;
    for (let py = Math.max(0, y); py < Math.min(height, y + h); py++) {
      for (let px = Math.max(0, x); px < Math.min(width, x + w); px++) {
        if (shape.kind === "ellipse" && !inEllipse(px, py, x, y, w, h)) continue;
        data.set(shape.colour, (py * width + px) * 3);
      }
    }
  }
  return { width, height, data };
}

/** Writes every frame as a lossless PNG (frame-0000.png, ...) to `folder`, a frame folder a video session opens. */
export async function writeClipFrames(spec: ClipSpec, folder: string): Promise<string[]> {
  await mkdir(folder, { recursive: true });
  const files: string[] = [];
  for (let t = 0; t < spec.frames; t++) {
    const { width, height, data } = renderClip(spec, t);
    const file = join(folder, `frame-${String(t).padStart(4, "0")}.png`);
    await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(file);
    files.push(file);
  }
  return files;
}
