import type { BoxPrompt, PointPrompt } from "../../core/prompts";

/**
 * Points from a message (arrays of {x, y, positive | label} or [x, y] / [x, y, label]) or from the editor's
 * text form "x,y; x,y:neg".
 */
export function parsePoints(value: unknown): PointPrompt[] {
  if (value === undefined || value === null || value === "") return [];
  if (typeof value === "string") return splitList(value).map((item) => textPoint(item));
  if (!Array.isArray(value)) throw new Error(`points must be a list, got ${JSON.stringify(value)}`);
  return value.map((p) => {
    if (Array.isArray(p)) return checkedPoint({ x: p[0], y: p[1], positive: p[2] === undefined ? true : p[2] === 1 || p[2] === true });
    const o = p as { x: unknown; y: unknown; positive?: unknown; label?: unknown };
    return checkedPoint({ x: o.x, y: o.y, positive: o.positive !== undefined ? o.positive !== false : o.label === undefined ? true : o.label === 1 });
  });
}

/** Boxes from a message ({box: [x1, y1, x2, y2], positive} or [x1, y1, x2, y2]) or from the text form "x1,y1,x2,y2[:neg]; ...". */
export function parseBoxes(value: unknown): BoxPrompt[] {
  if (value === undefined || value === null || value === "") return [];
  if (typeof value === "string") return splitList(value).map((item) => textBox(item));
  const list = Array.isArray(value) && typeof value[0] === "number" ? [value] : value;
  if (!Array.isArray(list)) throw new Error(`boxes must be a list, got ${JSON.stringify(value)}`);
  return list.map((b) => {
    if (Array.isArray(b)) return checkedBox(b, true);
    const o = b as { box: unknown; positive?: unknown };
    return checkedBox(o.box, o.positive !== false);
  });
}

const splitList = (text: string) => text.split(/[;\n]/).map((s) => s.trim()).filter(Boolean);

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
  const x = Number(p.x);
  const y = Number(p.y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`a point needs numeric x and y, got ${JSON.stringify(p)}`);
  return { x, y, positive: p.positive };
}

function checkedBox(box: unknown, positive: boolean): BoxPrompt {
  const values = Array.isArray(box) ? box.map(Number) : [];
  if (values.length !== 4 || !values.every(Number.isFinite)) throw new Error(`a box needs four numbers x1,y1,x2,y2, got ${JSON.stringify(box)}`);
  return { box: values as BoxPrompt["box"], positive };
}
