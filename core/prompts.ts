import { Sam3Error } from "./errors";
import { LIMITS } from "./limits";

/** A point in image pixels; positive points select, negative points exclude. */
export interface PointPrompt {
  x: number;
  y: number;
  positive?: boolean;
}

/** A box in image pixels [x1, y1, x2, y2]; for the detector a negative box is an exemplar of what not to find. */
export interface BoxPrompt {
  box: [number, number, number, number];
  positive?: boolean;
}

export interface ImagePrompt {
  /** A concept, or several: every instance of each is found ("red car"), labelled with its concept. */
  text?: string | string[];
  /** With text: exemplar boxes for the detector. Without text: one box for the tracker. */
  boxes?: BoxPrompt[];
  /** Clicks for the tracker: one object from positive and negative points. */
  points?: PointPrompt[];
  /** A previous tracker result's low-res logits, to refine that mask. */
  maskInput?: Float32Array;
}

/** A LIMIT_EXCEEDED error naming the limit, when `count` goes past LIMITS[limit]. */
export function checkLimit(limit: keyof typeof LIMITS, count: number, what: string): void {
  if (count > LIMITS[limit]) {
    throw new Sam3Error("LIMIT_EXCEEDED", `${count} ${what} is more than the limit of ${LIMITS[limit]} (${limit}): split the request`);
  }
}

/**
 * The prompt's shape and size, checked before any decoding or tensor is made: arrays are arrays, counts and the
 * text length are within LIMITS.
 */
export function checkPromptBounds(prompt: ImagePrompt): void {
  if (typeof prompt !== "object" || prompt === null) throw new Sam3Error("BAD_PROMPT", "the prompt must be an object with text, points, boxes or a mask");
  for (const key of ["points", "boxes"] as const) {
    if (prompt[key] !== undefined && !Array.isArray(prompt[key])) throw new Sam3Error("BAD_PROMPT", `${key} must be an array`);
  }
  const texts = prompt.text === undefined ? [] : [prompt.text].flat();
  if (texts.some((t) => typeof t !== "string") || (Array.isArray(prompt.text) && !texts.length)) throw new Sam3Error("BAD_PROMPT", "text must be a string or a non-empty list of strings");
  checkLimit("conceptsPerPrompt", texts.length, "text concepts");
  if (prompt.maskInput !== undefined && !(prompt.maskInput instanceof Float32Array)) throw new Sam3Error("BAD_PROMPT", "maskInput must be a Float32Array of low-res logits");
  checkLimit("pointsPerPrompt", prompt.points?.length ?? 0, "points");
  checkLimit("boxesPerPrompt", prompt.boxes?.length ?? 0, "boxes");
  for (const text of texts) checkLimit("textLength", text.length, "characters of text");
}

/** Which head answers a prompt: text (with or without boxes) goes to the detector, the rest to the tracker. */
export function promptPath(prompt: ImagePrompt): "detector" | "tracker" {
  if (prompt.text !== undefined) {
    if (prompt.points?.length) throw new Sam3Error("BAD_PROMPT", "points cannot be combined with a text prompt; use boxes as exemplars, or drop the text");
    return "detector";
  }
  if (!prompt.points?.length && !prompt.boxes?.length && !prompt.maskInput) {
    throw new Sam3Error("BAD_PROMPT", "give a text prompt, points, a box or a mask");
  }
  if ((prompt.boxes?.length ?? 0) > 1) {
    throw new Sam3Error("BAD_PROMPT", "the tracker takes one box per object; add a text prompt to use several boxes as exemplars");
  }
  return "tracker";
}

export function checkText(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) throw new Sam3Error("BAD_PROMPT", "the text prompt is empty");
  return trimmed;
}

export function checkPoint(p: PointPrompt, width: number, height: number): void {
  if (typeof p !== "object" || p === null || !Number.isFinite(p.x) || !Number.isFinite(p.y)) {
    throw new Sam3Error("BAD_PROMPT", `point ${describe(p)} is not a pair of finite numbers {x, y}`);
  }
  if (p.x < 0 || p.y < 0 || p.x > width || p.y > height) {
    throw new Sam3Error("BAD_PROMPT", `point (${p.x}, ${p.y}) is outside the ${width}x${height} image`);
  }
}

export function checkBox(b: BoxPrompt, width: number, height: number): void {
  const box = typeof b === "object" && b !== null ? b.box : undefined;
  if (!Array.isArray(box) || box.length !== 4 || !box.every(Number.isFinite)) {
    throw new Sam3Error("BAD_PROMPT", `box ${describe(box)} needs four finite numbers x1,y1,x2,y2`);
  }
  const [x1, y1, x2, y2] = box;
  if (x2 <= x1 || y2 <= y1) throw new Sam3Error("BAD_PROMPT", `box [${box}] is empty or inverted: need x1 < x2 and y1 < y2`);
  if (x1 < 0 || y1 < 0 || x2 > width || y2 > height) {
    throw new Sam3Error("BAD_PROMPT", `box [${box}] reaches outside the ${width}x${height} image`);
  }
}

/** A short rendering of a caller's value for an error message (never a huge dump). */
const describe = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 80);
