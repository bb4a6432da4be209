/** A distinct, stable colour per object id (golden-angle hues), so one object keeps its colour across frames and faces. */
export function objectColour(id: number): [number, number, number] {
  const hue = ((id * 137.508) % 360) / 60;
  const s = 0.75;
  const v = 0.95;
  const c = v * s;
  const x = c * (1 - Math.abs((hue % 2) - 1));
  const [r, g, b] = hue < 1 ? [c, x, 0] : hue < 2 ? [x, c, 0] : hue < 3 ? [0, c, x] : hue < 4 ? [0, x, c] : hue < 5 ? [x, 0, c] : [c, 0, x];
  const m = v - c;
  return [r, g, b].map((u) => Math.round((u + m) * 255)) as [number, number, number];
}

export const toHex = ([r, g, b]: [number, number, number]) => "#" + [r, g, b].map((u) => u.toString(16).padStart(2, "0")).join("");

/** The object's colour as "#rrggbb": what the JSON carries, so a browser draws what the PNG and MP4 show. */
export const colourHex = (id: number) => toHex(objectColour(id));
