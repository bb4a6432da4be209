import type { Box, ObjectSummary, Sam3VideoPredictor } from "../core";

/** Objects described one per line in a tool's text at most: the rest are counted. */
const MAX_LINES = 20;

const boxText = (box: readonly number[]) => `box [${box.map((v) => Math.round(v)).join(", ")}]`;
const name = (o: { id: number; label?: string }) => `#${o.id}${o.label ? ` ${o.label}` : ""}`;

/** Lines capped at MAX_LINES, with a last one counting those left out (and saying where they are). */
function capped(lines: string[], where: string): string {
  if (lines.length <= MAX_LINES) return lines.join("\n");
  return [...lines.slice(0, MAX_LINES), `... and ${lines.length - MAX_LINES} more objects (${where})`].join("\n");
}

/**
 * Objects (of an image or a video frame) for a client that reads only the text: id, label, score and pixel box,
 * one per line, so a model sees where things are without structuredContent.
 */
export function objectLines(objects: readonly { id: number; label?: string; score: number; box: readonly number[] }[], where: string): string {
  return capped(objects.map((o) => `${name(o)}  score ${o.score.toFixed(3)}  ${boxText(o.box)}`), where);
}

/** A session's objects the same way: mean score, the frames each is on, and its box on its first frame. */
export function trackLines(objects: readonly ObjectSummary[], predictor: Sam3VideoPredictor, sessionId: string, where: string): string {
  const firstBox = (o: ObjectSummary): Box | undefined => predictor.frame(sessionId, o.first_frame).objects.find((f) => f.id === o.id)?.box;
  return capped(
    objects.map((o) => {
      const box = firstBox(o);
      return `${name(o)}  mean score ${o.mean_score.toFixed(3)}  frames ${o.first_frame}-${o.last_frame} (on ${o.frames_present})` + (box ? `  ${boxText(box)} on frame ${o.first_frame}` : "");
    }),
    where,
  );
}
