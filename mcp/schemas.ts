import { z } from "zod";
import { type BoxPrompt, jsonSchemas, type PointPrompt } from "../core";

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

// the results' shapes are core's, so the output schemas say exactly what the tools return
export const { objectJsonSchema: imageObject, frameObjectJsonSchema: frameObject, sessionInfoSchema: sessionInfo, objectSummarySchema: objectSummary, candidateSchema: candidate } = jsonSchemas;

export const fileLink = z.object({ uri: z.string(), name: z.string(), mimeType: z.string() });

/** A session's text-detection threshold (start_session's extension): real weights want the default, random-weight packs far less. */
export const videoThreshold = z
  .number()
  .min(0)
  .max(1)
  .optional()
  .describe("Text prompts: detections scoring at least this (0..1) are kept and start new objects; default 0.5 to keep, 0.7 to start (SAM 3's video rules).");
