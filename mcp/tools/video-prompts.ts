import { z } from "zod";
import type { VideoPrompt } from "../../core";
import { box, coordinates, point } from "../schemas";

/** Prompt fields shared by add_prompt and segment_video, as an agent writes them. */
export const promptFields = {
  text: z.union([z.string(), z.array(z.string())]).optional().describe('A concept ("person") or several: every instance on every frame. Starts the session over.'),
  points: z.array(point).optional().describe("Clicks on one object (needs obj_id): positive on it, negative on what to leave out."),
  boxes: z.array(box).optional().describe("With obj_id: one box around that object. Without obj_id and text: an example box of a concept."),
  obj_id: z.number().int().min(0).optional().describe("The object the points / box are for: a new id adds an object, an existing one refines it."),
  coordinates,
};

type PromptFields = { text?: string | string[]; points?: z.infer<typeof point>[]; boxes?: z.infer<typeof box>[]; obj_id?: number; coordinates: "pixels" | "relative" };

/** Core's video prompt for an agent's prompt on a frame. */
export function toVideoPrompt(frame: number, p: PromptFields): VideoPrompt {
  return {
    frame,
    text: p.text,
    points: p.points,
    boxes: p.boxes?.map((b) => ({ box: [b.x1, b.y1, b.x2, b.y2], positive: b.positive })),
    objectId: p.obj_id,
    coordinates: p.coordinates,
  };
}
