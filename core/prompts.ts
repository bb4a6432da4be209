import { Sam3Error } from "./errors";
import { type BoxPrompt, checkBoxOrder, checkLimit, parseBoxList, parseBoxText, parsePointList, parsePointText, type PointPrompt, toNumber } from "./prompt-grammar";

export * from "./prompt-grammar";

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
  checkBoxOrder(box);
  const [x1, y1, x2, y2] = box;
  if (x1 < 0 || y1 < 0 || x2 > width || y2 > height) {
    throw new Sam3Error("BAD_PROMPT", `box [${box}] reaches outside the ${width}x${height} image`);
  }
}

/** How a caller gives points and boxes: image pixels, or fractions 0..1 of the width and height. */
export type Coordinates = "pixels" | "relative";

/** The prompt with its points and boxes in pixels; relative ones outside 0..1 are refused (they are likely pixels). */
export function toPixelPrompt<T extends { points?: PointPrompt[]; boxes?: BoxPrompt[] }>(prompt: T, width: number, height: number, coordinates: Coordinates = "pixels"): T {
  if (coordinates === "pixels") return prompt;
  if (coordinates !== "relative") throw new Sam3Error("BAD_OPTION", `coordinates must be "pixels" or "relative", got ${describe(coordinates)}`);
  const fractions = (values: number[]) => {
    if (!values.every((v) => v >= 0 && v <= 1)) throw new Sam3Error("BAD_PROMPT", `relative coordinates must be within 0..1, got (${values.join(", ")}): outside the ${width}x${height} image; pass coordinates "pixels" for pixels`);
  };
  const scaled = { ...prompt };
  if (Array.isArray(prompt.points)) {
    scaled.points = prompt.points.map((p) => {
      fractions([p?.x, p?.y]);
      return { ...p, x: p.x * width, y: p.y * height };
    });
  }
  if (Array.isArray(prompt.boxes)) {
    scaled.boxes = prompt.boxes.map((b) => {
      const box = Array.isArray(b?.box) ? b.box : [NaN];
      fractions(box);
      const [x1, y1, x2, y2] = box;
      return { ...b, box: [x1 * width, y1 * height, x2 * width, y2 * height] };
    });
  }
  return scaled;
}

/**
 * Points from a message: arrays of {x, y, positive | label}, [x, y] / [x, y, label] or "x,y[:neg]" strings, or the
 * text form "x,y; x,y:neg"; labels are 1 (include) or 0 (exclude); at most LIMITS.pointsPerPrompt.
 */
export function parsePoints(value: unknown): PointPrompt[] {
  if (value === undefined || value === null || value === "") return [];
  if (typeof value === "string") return parsePointList(value);
  if (!Array.isArray(value)) throw new Sam3Error("BAD_PROMPT", "points must be a list of {x, y} or [x, y]");
  checkLimit("pointsPerPrompt", value.length, "points");
  return value.map((p: unknown) => {
    if (typeof p === "string") return parsePointText(p);
    if (Array.isArray(p)) return messagePoint(p[0], p[1], p[2] === undefined || labelOf(p[2], "a point's third value"));
    if (typeof p !== "object" || p === null) throw new Sam3Error("BAD_PROMPT", "a point must be {x, y} or [x, y]");
    const o = p as { x: unknown; y: unknown; positive?: unknown; label?: unknown };
    const positive = o.positive !== undefined ? labelOf(o.positive, "positive") : o.label === undefined || labelOf(o.label, "label");
    return messagePoint(o.x, o.y, positive);
  });
}

/**
 * Boxes from a message: {box: [x1, y1, x2, y2], positive}, [x1, y1, x2, y2] or "x1,y1,x2,y2[:neg]" strings, one
 * such box alone, or the text form "x1,y1,x2,y2; ..."; at most LIMITS.boxesPerPrompt.
 */
export function parseBoxes(value: unknown): BoxPrompt[] {
  if (value === undefined || value === null || value === "") return [];
  if (typeof value === "string") return parseBoxList(value);
  const list = Array.isArray(value) && typeof value[0] === "number" ? [value] : value;
  if (!Array.isArray(list)) throw new Sam3Error("BAD_PROMPT", "boxes must be a list of [x1, y1, x2, y2] or {box}");
  checkLimit("boxesPerPrompt", list.length, "boxes");
  return list.map((b: unknown) => {
    if (typeof b === "string") return parseBoxText(b);
    if (Array.isArray(b)) return messageBox(b, true);
    if (typeof b !== "object" || b === null) throw new Sam3Error("BAD_PROMPT", "a box must be [x1, y1, x2, y2] or {box: [x1, y1, x2, y2]}");
    const o = b as { box: unknown; positive?: unknown };
    return messageBox(o.box, o.positive === undefined || labelOf(o.positive, "positive"));
  });
}

/** A text prompt from a message: one concept within the length limit, or undefined when there is none. */
export function parseText(value: unknown): string | undefined {
  return value === undefined || value === null || value === "" ? undefined : messageText(value);
}

/** A video text prompt: one concept or a list of them (at most LIMITS.conceptsPerPrompt), each within the length limit. */
export function parseConcepts(value: unknown): string | string[] | undefined {
  if (!Array.isArray(value)) return parseText(value);
  checkLimit("conceptsPerPrompt", value.length, "concepts");
  return value.map(messageText);
}

function messageText(value: unknown): string {
  if (typeof value !== "string") throw new Sam3Error("BAD_PROMPT", "a text prompt must be a string");
  checkLimit("textLength", value.length, "characters of text");
  return value;
}

function messagePoint(x: unknown, y: unknown, positive: boolean): PointPrompt {
  const point = { x: toNumber(x), y: toNumber(y), positive };
  if (!Number.isFinite(point.x) || !Number.isFinite(point.y)) throw new Sam3Error("BAD_PROMPT", "a point needs finite numbers x and y");
  return point;
}

function messageBox(box: unknown, positive: boolean): BoxPrompt {
  const values = Array.isArray(box) && box.length === 4 ? box.map(toNumber) : [];
  if (values.length !== 4 || !values.every(Number.isFinite)) throw new Sam3Error("BAD_PROMPT", "a box needs four finite numbers x1,y1,x2,y2");
  checkBoxOrder(values);
  return { box: values as BoxPrompt["box"], positive };
}

/** Include (true, 1) or exclude (false, 0); anything else is refused rather than guessed. */
function labelOf(value: unknown, what: string): boolean {
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  throw new Sam3Error("BAD_PROMPT", `${what} must be 1 or true (include) or 0 or false (exclude), got ${describe(value)}`);
}

/** A short rendering of a caller's value for an error message (never a huge dump). */
const describe = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 80);
