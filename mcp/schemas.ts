import { z } from "zod";
import type { BoxPrompt, PointPrompt } from "../core";

export const coordinates = z
  .enum(["pixels", "relative"])
  .default("pixels")
  .describe('"pixels" (default): x right from the left edge, y down from the top, in image pixels. "relative": the same as fractions 0..1 of width and height.');

export const point = z.object({
  x: z.number(),
  y: z.number(),
  positive: z.boolean().default(true).describe("true: part of the object; false: not part of it (to exclude a neighbour)"),
});

export const box = z.object({
  x1: z.number(),
  y1: z.number(),
  x2: z.number().describe("right edge, > x1"),
  y2: z.number().describe("bottom edge, > y1"),
  positive: z.boolean().default(true).describe("with text: an example of the concept (true) or of what is not it (false)"),
});

/** An agent's points and boxes in core's prompt shapes, still in the agent's coordinates (core's toPixelPrompt converts). */
export function corePrompt(p: { points?: z.infer<typeof point>[]; boxes?: z.infer<typeof box>[] }): { points?: PointPrompt[]; boxes?: BoxPrompt[] } {
  return {
    points: p.points?.map(({ x, y, positive }) => ({ x, y, positive })),
    boxes: p.boxes?.map(({ x1, y1, x2, y2, positive }) => ({ box: [x1, y1, x2, y2], positive })),
  };
}

export const rle = z.object({
  size: z.tuple([z.number(), z.number()]).describe("[height, width]"),
  counts: z.string().describe("COCO compressed RLE (pycocotools mask.decode reads it), column-major"),
});

export const imageObject = z.object({
  id: z.number(),
  score: z.number(),
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]).describe("[x1, y1, x2, y2] in pixels"),
  area: z.number().describe("mask pixels"),
  rle,
});

export const frameObject = z.object({
  id: z.number(),
  score: z.number(),
  box_xywh: z.tuple([z.number(), z.number(), z.number(), z.number()]).describe("[x, y, w, h] as fractions of the frame"),
  area: z.number(),
  rle,
});

export const sessionInfo = z.object({
  session_id: z.string(),
  resource_path: z.string(),
  frames: z.number(),
  width: z.number(),
  height: z.number(),
  fps: z.number(),
  kind: z.enum(["video", "frames", "image"]),
  decoder: z.string(),
  decode_error: z.string().optional(),
  object_ids: z.array(z.number()),
  progress: z.object({ running: z.boolean(), done: z.number(), total: z.number(), fps: z.number(), cancelled: z.boolean() }),
  last_used: z.string(),
  expires_at: z.string(),
});

export const objectSummary = z.object({
  id: z.number(),
  label: z.string().optional().describe("the text prompt that found it, for detector objects"),
  frames_present: z.number(),
  first_frame: z.number(),
  last_frame: z.number(),
  mean_area: z.number().describe("mean mask pixels over the frames it is present on"),
  mean_score: z.number(),
});

export const fileLink = z.object({ uri: z.string(), name: z.string(), mimeType: z.string() });
