import { z } from "zod";

// The JSON every face returns, defined once: the TypeScript types are inferred from these, and the MCP server
// declares them as its tools' output schemas.

const quad = z.tuple([z.number(), z.number(), z.number(), z.number()]);

export const rleSchema = z.object({
  size: z.tuple([z.number(), z.number()]).describe("[height, width]"),
  counts: z.string().describe("COCO compressed RLE (pycocotools mask.decode reads it), column-major"),
});

export const objectJsonSchema = z.object({
  id: z.number(),
  label: z.string().optional().describe("the concept (text prompt) that found it"),
  score: z.number(),
  box: quad.describe("[x1, y1, x2, y2] in pixels"),
  area: z.number().describe("mask pixels"),
  rle: rleSchema,
  colour: z.string().describe("the object's colour in overlays, #rrggbb"),
});

export const frameObjectJsonSchema = objectJsonSchema.extend({
  box_xywh: quad.describe("[x, y, w, h] as fractions of the frame"),
});

export const frameJsonSchema = z.object({ frame_index: z.number(), objects: z.array(frameObjectJsonSchema) });

export const candidateSchema = z.object({ score: z.number(), area: z.number() });

export const segmentationJsonSchema = z.object({
  image: z.object({ width: z.number(), height: z.number() }),
  model: z.string(),
  objects: z.array(objectJsonSchema),
  candidates: z.array(candidateSchema).optional(),
});

export const objectSummarySchema = z.object({
  id: z.number(),
  label: z.string().optional().describe("the text prompt that found it, for detector objects"),
  frames_present: z.number(),
  first_frame: z.number(),
  last_frame: z.number(),
  mean_area: z.number().describe("mean mask pixels over the frames it is present on"),
  mean_score: z.number(),
});

export const progressSchema = z.object({
  running: z.boolean(),
  done: z.number(),
  total: z.number(),
  fps: z.number().describe("frames per second of the running (or last) propagation"),
  cancelled: z.boolean(),
});

export const sessionInfoSchema = z.object({
  session_id: z.string(),
  resource_path: z.string(),
  frames: z.number(),
  width: z.number(),
  height: z.number(),
  fps: z.number(),
  kind: z.enum(["video", "frames", "image"]),
  decoder: z.string().describe("which ffmpeg decodes the video (system or bundled), or the image decoder"),
  tracker: z.enum(["memory", "mask prompts", "box prompts"]).describe("how objects are carried between frames: SAM 3's memory tracker, or (packs without its graphs) the previous mask or box"),
  decode_error: z.string().optional().describe("set when the video is truncated: its readable frames are still usable"),
  object_ids: z.array(z.number()),
  progress: progressSchema,
  memory: z.object({ results_bytes: z.number().describe("the stored masks (run-length encoded)"), frame_cache_bytes: z.number().describe("decoded frames held for reuse"), tracker_bytes: z.number().describe("the memory tracker's banks (bounded by its window)") }),
  last_used: z.string(),
  expires_at: z.string(),
});
