// The text forms of prompts: one grammar for CLI flags, Node-RED fields and the Node-RED editor, which runs this
// very module (see prompt-grammar-script.ts). So it imports only errors and limits, which import nothing.
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

/** A video prompt on one frame: `f,x,y[:neg]`. */
export interface FramedPoint {
  frame: number;
  point: PointPrompt;
}

/** A video box on one frame: `f,x1,y1,x2,y2[:neg]`. */
export interface FramedBox {
  frame: number;
  box: BoxPrompt;
}

/** A prompt text that cannot be read at all (on a command line: a usage mistake), as opposed to one that reads but is refused. */
export class PromptSyntaxError extends Sam3Error {
  constructor(message: string) {
    super("BAD_PROMPT", message);
  }
}

/** A LIMIT_EXCEEDED error naming the limit, when `count` goes past LIMITS[limit]. */
export function checkLimit(limit: keyof typeof LIMITS, count: number, what: string): void {
  if (count > LIMITS[limit]) {
    throw new Sam3Error("LIMIT_EXCEEDED", `${count} ${what} is more than the limit of ${LIMITS[limit]} (${limit}): split the request`);
  }
}

/** Refuses a box whose corners are not top-left then bottom-right. */
export function checkBoxOrder(box: readonly number[]): void {
  const [x1, y1, x2, y2] = box;
  if (!(x1 < x2 && y1 < y2)) throw new Sam3Error("BAD_PROMPT", `box [${box}] is empty or inverted: need x1 < x2 and y1 < y2`);
}

// plain decimal numbers only: Number() would also take "", " ", "0x10" and "Infinity"
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;

/** A number from a message or a text field (a string of a decimal number is fine), NaN for anything else. */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  return typeof value === "string" && NUMBER.test(value.trim()) ? Number(value) : NaN;
}

const FORMS = {
  point: { noun: "point", shape: "x,y", example: "120,80 or 120,80:neg" },
  box: { noun: "box", shape: "x1,y1,x2,y2", example: "10,20,200,180 or 10,20,200,180:neg" },
  framedPoint: { noun: "point", shape: "f,x,y", example: "0,120,80 or 0,120,80:neg" },
  framedBox: { noun: "box", shape: "f,x1,y1,x2,y2", example: "0,10,20,200,180 or 0,10,20,200,180:neg" },
};

/** The numbers and the include / exclude suffix of one item, or a syntax error naming the expected form. */
function readItem(text: string, form: keyof typeof FORMS): { values: number[]; positive: boolean } {
  const { noun, shape, example } = FORMS[form];
  const colon = text.indexOf(":");
  const suffix = colon < 0 ? "pos" : text.slice(colon + 1).trim();
  if (suffix !== "neg" && suffix !== "pos") throw new PromptSyntaxError(`${noun} ${quote(text)}: the only suffixes are :neg (exclude) and :pos (include)`);
  const parts = (colon < 0 ? text : text.slice(0, colon)).split(",");
  const values = parts.map(toNumber);
  const count = shape.split(",").length;
  if (values.length !== count || !values.every(Number.isFinite)) {
    throw new PromptSyntaxError(`${noun} ${quote(text)} must be ${count} comma-separated numbers ${shape} with an optional :neg or :pos, e.g. ${example}`);
  }
  return { values, positive: suffix === "pos" };
}

/** `x,y`, `x,y:neg` or `x,y:pos` (the default). */
export function parsePointText(text: string): PointPrompt {
  const { values, positive } = readItem(text, "point");
  return { x: values[0], y: values[1], positive };
}

/** `x1,y1,x2,y2` with an optional `:neg` / `:pos`; the corners top-left then bottom-right. */
export function parseBoxText(text: string): BoxPrompt {
  const { values, positive } = readItem(text, "box");
  checkBoxOrder(values);
  return { box: values as BoxPrompt["box"], positive };
}

/** `f,x,y[:neg]`: a point on frame f. */
export function parseFramedPoint(text: string): FramedPoint {
  const { values, positive } = readItem(text, "framedPoint");
  return { frame: frameOf(text, values[0]), point: { x: values[1], y: values[2], positive } };
}

/** `f,x1,y1,x2,y2[:neg]`: a box on frame f. */
export function parseFramedBox(text: string): FramedBox {
  const { values, positive } = readItem(text, "framedBox");
  const box = values.slice(1) as BoxPrompt["box"];
  checkBoxOrder(box);
  return { frame: frameOf(text, values[0]), box: { box, positive } };
}

/** "x,y; x,y:neg" (`;` or newline between items), at most LIMITS.pointsPerPrompt. */
export const parsePointList = (text: string): PointPrompt[] => readList(text, "pointsPerPrompt", "points", parsePointText);

/** "x1,y1,x2,y2; ..." (`;` or newline between items), at most LIMITS.boxesPerPrompt. */
export const parseBoxList = (text: string): BoxPrompt[] => readList(text, "boxesPerPrompt", "boxes", parseBoxText);

/** "f,x,y; f,x,y:neg" (`;` or newline between items), at most LIMITS.pointsPerPrompt. */
export const parseFramedPointList = (text: string): FramedPoint[] => readList(text, "pointsPerPrompt", "points", parseFramedPoint);

/** "f,x1,y1,x2,y2; ..." (`;` or newline between items), at most LIMITS.boxesPerPrompt. */
export const parseFramedBoxList = (text: string): FramedBox[] => readList(text, "boxesPerPrompt", "boxes", parseFramedBox);

function readList<T>(text: string, limit: "pointsPerPrompt" | "boxesPerPrompt", what: string, item: (text: string) => T): T[] {
  // the separators are counted on the raw text first, so a megabyte of ";" is refused before it is split (blank
  // items, as between ";" and a newline, are allowed for)
  let separators = 0;
  for (let i = 0; i < text.length && separators <= 2 * LIMITS[limit] + 1; i++) if (text[i] === ";" || text[i] === "\n") separators++;
  if (separators > 2 * LIMITS[limit] + 1) throw new Sam3Error("LIMIT_EXCEEDED", `the ${what} text has more items than the limit of ${LIMITS[limit]} (${limit}): split the request`);
  const items = text.split(/[;\n]/).map((s) => s.trim()).filter(Boolean);
  checkLimit(limit, items.length, what);
  return items.map(item);
}

function frameOf(text: string, frame: number): number {
  if (!(Number.isInteger(frame) && frame >= 0)) throw new PromptSyntaxError(`${quote(text)}: the frame f must be a whole number of at least 0`);
  return frame;
}

/** The user's text in a message, cut short: a field can hold a megabyte. */
const quote = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
