import { type BoxPrompt, LIMITS, type PointPrompt, Sam3Error } from "../../core";

/**
 * Points from a message (arrays of {x, y, positive | label} or [x, y] / [x, y, label]) or from the editor's
 * text form "x,y; x,y:neg"; at most LIMITS.pointsPerPrompt.
 */
export function parsePoints(value: unknown): PointPrompt[] {
  if (value === undefined || value === null || value === "") return [];
  const list = typeof value === "string" ? splitList(value, "points") : value;
  if (!Array.isArray(list)) throw new Sam3Error("BAD_PROMPT", "points must be a list of {x, y} or [x, y]");
  bounded(list, LIMITS.pointsPerPrompt, "points");
  return list.map((p: unknown) => {
    if (typeof p === "string") return textPoint(p);
    if (Array.isArray(p)) return checkedPoint({ x: p[0], y: p[1], positive: p[2] === undefined ? true : p[2] === 1 || p[2] === true });
    if (typeof p !== "object" || p === null) throw new Sam3Error("BAD_PROMPT", "a point must be {x, y} or [x, y]");
    const o = p as { x: unknown; y: unknown; positive?: unknown; label?: unknown };
    return checkedPoint({ x: o.x, y: o.y, positive: o.positive !== undefined ? o.positive !== false : o.label === undefined ? true : o.label === 1 });
  });
}

/**
 * Boxes from a message ({box: [x1, y1, x2, y2], positive} or [x1, y1, x2, y2]) or from the text form
 * "x1,y1,x2,y2[:neg]; ..."; at most LIMITS.boxesPerPrompt.
 */
export function parseBoxes(value: unknown): BoxPrompt[] {
  if (value === undefined || value === null || value === "") return [];
  const list = typeof value === "string" ? splitList(value, "boxes") : Array.isArray(value) && typeof value[0] === "number" ? [value] : value;
  if (!Array.isArray(list)) throw new Sam3Error("BAD_PROMPT", "boxes must be a list of [x1, y1, x2, y2] or {box}");
  bounded(list, LIMITS.boxesPerPrompt, "boxes");
  return list.map((b: unknown) => {
    if (typeof b === "string") return textBox(b);
    if (Array.isArray(b)) return checkedBox(b, true);
    if (typeof b !== "object" || b === null) throw new Sam3Error("BAD_PROMPT", "a box must be [x1, y1, x2, y2] or {box: [x1, y1, x2, y2]}");
    const o = b as { box: unknown; positive?: unknown };
    return checkedBox(o.box, o.positive !== false);
  });
}

/** A text prompt from a message: one concept within the length limit. */
export function parseText(value: unknown): string | undefined {
  return value === undefined || value === null || value === "" ? undefined : checkedText(value);
}

/** A video text prompt: one concept or a list of them (at most LIMITS.conceptsPerPrompt), each within the length limit. */
export function parseConcepts(value: unknown): string | string[] | undefined {
  if (!Array.isArray(value)) return parseText(value);
  bounded(value, LIMITS.conceptsPerPrompt, "concepts");
  return value.map((t) => checkedText(t));
}

function checkedText(value: unknown): string {
  if (typeof value !== "string") throw new Sam3Error("BAD_PROMPT", "a text prompt must be a string");
  if (value.length > LIMITS.textLength) throw new Sam3Error("LIMIT_EXCEEDED", `a text prompt is longer than the limit of ${LIMITS.textLength} characters`);
  return value;
}

function bounded(list: unknown[], limit: number, what: string) {
  if (list.length > limit) throw new Sam3Error("LIMIT_EXCEEDED", `${list.length} ${what} in one prompt, more than the limit of ${limit}`);
}

// the count is checked on the raw text first, so a megabyte of ";" is refused before it is split
function splitList(text: string, what: string): string[] {
  const separators = text.match(/[;\n]/g)?.length ?? 0;
  if (separators > 2 * LIMITS.pointsPerPrompt + LIMITS.boxesPerPrompt) throw new Sam3Error("LIMIT_EXCEEDED", `too many ${what} in one prompt`);
  return text.split(/[;\n]/).map((s) => s.trim()).filter(Boolean);
}

function textPoint(item: string): PointPrompt {
  const [coords, flag] = item.split(":");
  const [x, y] = coords.split(",").map(Number);
  return checkedPoint({ x, y, positive: flag?.trim() !== "neg" });
}

function textBox(item: string): BoxPrompt {
  const [coords, flag] = item.split(":");
  return checkedBox(coords.split(",").map(Number), flag?.trim() !== "neg");
}

function checkedPoint(p: { x: unknown; y: unknown; positive: boolean }): PointPrompt {
  const x = typeof p.x === "number" || typeof p.x === "string" ? Number(p.x) : NaN;
  const y = typeof p.y === "number" || typeof p.y === "string" ? Number(p.y) : NaN;
  if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Sam3Error("BAD_PROMPT", "a point needs finite numbers x and y");
  return { x, y, positive: p.positive };
}

function checkedBox(box: unknown, positive: boolean): BoxPrompt {
  const values = Array.isArray(box) && box.length === 4 ? box.map((v: unknown) => (typeof v === "number" || typeof v === "string" ? Number(v) : NaN)) : [];
  if (values.length !== 4 || !values.every(Number.isFinite)) throw new Sam3Error("BAD_PROMPT", "a box needs four finite numbers x1,y1,x2,y2");
  return { box: values as BoxPrompt["box"], positive };
}
