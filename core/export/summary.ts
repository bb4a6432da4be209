import type { z } from "zod";
import type { objectSummarySchema } from "./json-schemas";
import type { ResultObject } from "./json";

export type ObjectSummary = z.infer<typeof objectSummarySchema>;

/** Each object over a video's frames (index = frame): where it is present, its mean area and score; sorted by id. */
export function summarizeObjects(frames: readonly (readonly ResultObject[])[]): ObjectSummary[] {
  const stats = new Map<number, { label?: string; frames: number; first: number; last: number; area: number; score: number }>();
  frames.forEach((objects, t) => {
    for (const o of objects) {
      const s = stats.get(o.id) ?? { label: o.label, frames: 0, first: t, last: t, area: 0, score: 0 };
      s.frames++;
      s.last = t;
      s.area += o.area;
      s.score += o.score;
      stats.set(o.id, s);
    }
  });
  return [...stats]
    .sort(([a], [b]) => a - b)
    .map(([id, s]) => ({
      id,
      ...(s.label !== undefined ? { label: s.label } : {}),
      frames_present: s.frames,
      first_frame: s.first,
      last_frame: s.last,
      mean_area: Math.round(s.area / s.frames),
      mean_score: Number((s.score / s.frames).toFixed(4)),
    }));
}
