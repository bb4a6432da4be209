import { Sam3Error } from "../errors";
import type { Mask } from "./mask";

/** How much of an image a set of masks covers: overlapping masks count once. */
export interface Coverage {
  /** Pixels inside at least one mask. */
  area: number;
  /** area / the image's pixels, 0..1. */
  fraction: number;
}

/** The union of `masks` (all of the image's size) over a `width` x `height` image. */
export function maskCoverage(masks: readonly Mask[], width: number, height: number): Coverage {
  const pixels = width * height;
  if (!(Number.isSafeInteger(pixels) && pixels > 0)) throw new Sam3Error("BAD_REQUEST", "coverage needs an image of at least one pixel");
  const union = new Uint8Array(pixels);
  for (const mask of masks) {
    if (mask.width !== width || mask.height !== height) throw new Sam3Error("BAD_REQUEST", `a mask of ${mask.width}x${mask.height} does not fit the ${width}x${height} image`);
    const { data } = mask;
    for (let i = 0; i < pixels; i++) union[i] |= data[i];
  }
  let area = 0;
  for (let i = 0; i < pixels; i++) area += union[i];
  return { area, fraction: area / pixels };
}
