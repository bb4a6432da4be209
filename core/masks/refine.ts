import { Sam3Error } from "../errors";
import { Mask, maskBox } from "./mask";

export interface RefineOptions {
  /** Edge smoothing in [0, 1]: 0 keeps fine detail, 1 gives the roundest edges. */
  fineness?: number;
  /** Foreground specks and background holes of at most this many pixels are removed / filled. */
  minRegionArea?: number;
}

/** Share of the image's shorter side that fineness 1 smooths over. */
const RADIUS_PER_FINENESS = 0.02;

function copyMask(mask: Mask): Mask {
  return { width: mask.width, height: mask.height, data: mask.data.slice() };
}

function assertFineness(fineness: number): void {
  if (!(fineness >= 0 && fineness <= 1)) {
    throw new Sam3Error("BAD_OPTION", `mask fineness must be a number in [0, 1], got ${fineness}`);
  }
}

/** Majority-filter radius, in pixels, that a fineness gives on a width x height mask (0 only for fineness 0). */
export function fineRadius(fineness: number, width: number, height: number): number {
  assertFineness(fineness);
  if (fineness === 0) return 0;
  return Math.max(1, Math.round(fineness * RADIUS_PER_FINENESS * Math.min(width, height)));
}

/**
 * Breadth-first fill of the 8-connected component of `start` (pixels equal to src[start]).
 * Writes the component's pixel indices to queue[0 .. size) and returns size.
 */
function floodComponent(
  src: Uint8Array,
  seen: Uint8Array,
  queue: Int32Array,
  width: number,
  height: number,
  start: number,
): number {
  const value = src[start];
  seen[start] = 1;
  queue[0] = start;
  let head = 0;
  let tail = 1;
  while (head < tail) {
    const p = queue[head++];
    const x = p % width;
    const y = (p - x) / width;
    const xLo = x > 0 ? x - 1 : x;
    const xHi = x < width - 1 ? x + 1 : x;
    const yLo = y > 0 ? y - 1 : y;
    const yHi = y < height - 1 ? y + 1 : y;
    for (let ny = yLo; ny <= yHi; ny++) {
      const row = ny * width;
      for (let nx = xLo; nx <= xHi; nx++) {
        const q = row + nx;
        if (seen[q] || src[q] !== value) continue;
        seen[q] = 1;
        queue[tail++] = q;
      }
    }
  }
  return tail;
}

/**
 * Clears every 8-connected foreground component of area <= maxArea and fills every 8-connected
 * background component of area <= maxArea (border-touching ones included, as SAM 2's
 * fill_holes_in_mask_scores does). Both are found on the input, so the result does not depend on order.
 */
export function removeSmallRegions(mask: Mask, maxArea: number): Mask {
  const out = copyMask(mask);
  // `!(> 0)` also treats NaN as "nothing to remove".
  if (!(maxArea > 0)) return out;
  const { width, height, data: src } = mask;
  const n = width * height;
  const seen = new Uint8Array(n);
  const queue = new Int32Array(n);
  for (let start = 0; start < n; start++) {
    if (seen[start]) continue;
    const size = floodComponent(src, seen, queue, width, height, start);
    if (size > maxArea) continue;
    const flipped = src[start] ? 0 : 1;
    for (let i = 0; i < size; i++) out.data[queue[i]] = flipped;
  }
  return out;
}

/** Summed-area table of the region [x1, x2) x [y1, y2): entry (i, j) counts set pixels above and left of it. */
function summedAreaTable(mask: Mask, x1: number, y1: number, x2: number, y2: number): Int32Array {
  const stride = x2 - x1 + 1;
  const sat = new Int32Array(stride * (y2 - y1 + 1));
  for (let y = y1; y < y2; y++) {
    const srcRow = y * mask.width;
    const above = (y - y1) * stride;
    const here = above + stride;
    let rowSum = 0;
    for (let x = x1; x < x2; x++) {
      rowSum += mask.data[srcRow + x];
      const i = x - x1 + 1;
      sat[here + i] = sat[above + i] + rowSum;
    }
  }
  return sat;
}

/**
 * The "mask fineness" control: a majority filter of radius fineRadius(fineness, ...). A pixel is set when
 * more than half of the in-image pixels of its (2r+1)^2 window are set. Fineness 0 returns the mask unchanged.
 */
export function smoothMask(mask: Mask, fineness: number): Mask {
  const r = fineRadius(fineness, mask.width, mask.height);
  if (r === 0) return copyMask(mask);
  const { width, height } = mask;
  const out: Mask = { width, height, data: new Uint8Array(width * height) };
  const box = maskBox(mask);
  if (!box) return out;
  // No pixel farther than r from the box has a set pixel in its window, so only this region can be set.
  const x1 = Math.max(0, box[0] - r);
  const y1 = Math.max(0, box[1] - r);
  const x2 = Math.min(width, box[2] + r);
  const y2 = Math.min(height, box[3] + r);
  const sat = summedAreaTable(mask, x1, y1, x2, y2);
  const stride = x2 - x1 + 1;
  for (let y = y1; y < y2; y++) {
    // Window rows clipped to the image (for the pixel count) and to the region (for the SAT lookup).
    const wy1 = Math.max(0, y - r);
    const wy2 = Math.min(height, y + r + 1);
    const top = (Math.max(y1, wy1) - y1) * stride;
    const bottom = (Math.min(y2, wy2) - y1) * stride;
    const outRow = y * width;
    for (let x = x1; x < x2; x++) {
      const wx1 = Math.max(0, x - r);
      const wx2 = Math.min(width, x + r + 1);
      const left = Math.max(x1, wx1) - x1;
      const right = Math.min(x2, wx2) - x1;
      const set = sat[bottom + right] - sat[top + right] - sat[bottom + left] + sat[top + left];
      const inImage = (wx2 - wx1) * (wy2 - wy1);
      if (2 * set > inImage) out.data[outRow + x] = 1;
    }
  }
  return out;
}

/** SAM-style post-processing: smooth edges by fineness, then drop specks and fill holes up to minRegionArea. */
export function refineMask(mask: Mask, options: RefineOptions = {}): Mask {
  const { fineness = 0, minRegionArea = 0 } = options;
  return removeSmallRegions(smoothMask(mask, fineness), minRegionArea);
}
