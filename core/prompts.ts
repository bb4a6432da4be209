import { Sam3Error } from "./errors";

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
  /** A concept: every instance of it is found ("red car"). */
  text?: string;
  /** With text: exemplar boxes for the detector. Without text: one box for the tracker. */
  boxes?: BoxPrompt[];
  /** Clicks for the tracker: one object from positive and negative points. */
  points?: PointPrompt[];
  /** A previous tracker result's low-res logits, to refine that mask. */
  maskInput?: Float32Array;
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
  if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) throw new Sam3Error("BAD_PROMPT", `point (${p.x}, ${p.y}) is not a number pair`);
  if (p.x < 0 || p.y < 0 || p.x > width || p.y > height) {
    throw new Sam3Error("BAD_PROMPT", `point (${p.x}, ${p.y}) is outside the ${width}x${height} image`);
  }
}

export function checkBox({ box }: BoxPrompt, width: number, height: number): void {
  const [x1, y1, x2, y2] = box;
  if (box.length !== 4 || !box.every(Number.isFinite)) throw new Sam3Error("BAD_PROMPT", `box [${box}] needs four numbers x1,y1,x2,y2`);
  if (x2 <= x1 || y2 <= y1) throw new Sam3Error("BAD_PROMPT", `box [${box}] is empty or inverted: need x1 < x2 and y1 < y2`);
  if (x1 < 0 || y1 < 0 || x2 > width || y2 > height) {
    throw new Sam3Error("BAD_PROMPT", `box [${box}] reaches outside the ${width}x${height} image`);
  }
}
