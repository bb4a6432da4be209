/** A binary mask, row-major, one byte per pixel (0 or 1). */
export interface Mask {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Pixel box [x1, y1, x2, y2]: x2 / y2 are exclusive edges, so a single pixel at (3, 4) is [3, 4, 4, 5]. */
export type Box = [number, number, number, number];

export function emptyMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height) };
}

export function maskArea(mask: Mask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n;
}

/** Tight bounding box of the set pixels, or null for an empty mask. */
export function maskBox(mask: Mask): Box | null {
  const { width, height, data } = mask;
  let x1 = width, y1 = height, x2 = -1, y2 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!data[row + x]) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      y2 = y;
    }
  }
  return x2 < 0 ? null : [x1, y1, x2 + 1, y2 + 1];
}

export function maskIoU(a: Mask, b: Mask): number {
  let inter = 0, union = 0;
  for (let i = 0; i < a.data.length; i++) {
    const p = a.data[i], q = b.data[i];
    inter += p & q;
    union += p | q;
  }
  return union === 0 ? 0 : inter / union;
}
