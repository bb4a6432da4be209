import { Sam3Error } from "../errors";
import { LIMITS } from "../limits";
import { Mask } from "./mask";

/** COCO run-length encoding as pycocotools writes it: `size` is [height, width], `counts` compressed or plain. */
export interface CocoRle {
  size: [number, number];
  counts: string | number[];
}

/** The compressed form that maskToCocoRle produces. */
export interface CompressedCocoRle {
  size: [number, number];
  counts: string;
}

/** Uncompressed COCO counts: alternating zero / one runs in column-major order, starting with a zero run. */
export function maskToRleCounts(mask: Mask): number[] {
  const { width, height, data } = mask;
  const counts: number[] = [];
  let value = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let i = x; i < data.length; i += width) {
      const bit = data[i] === 0 ? 0 : 1;
      if (bit !== value) {
        counts.push(run);
        run = 0;
        value = bit;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

/** Inverse of maskToRleCounts; counts that stop short leave the remaining pixels unset. */
export function rleCountsToMask(counts: ArrayLike<number>, height: number, width: number): Mask {
  const total = height * width;
  const data = new Uint8Array(total);
  let position = 0;
  for (let k = 0; k < counts.length; k++) {
    const run = counts[k];
    if (!Number.isInteger(run) || run < 0) throw new Sam3Error("BAD_REQUEST", `RLE count ${k} is not a non-negative integer: ${String(run).slice(0, 40)}`);
    if (position + run > total) throw new Sam3Error("BAD_REQUEST", `RLE counts cover more than ${height}x${width} pixels`);
    if (k % 2 === 1) fillColumnMajorRun(data, height, width, position, run);
    position += run;
  }
  return { width, height, data };
}

/** Sets `run` pixels starting at column-major index `start` in row-major `data`. */
function fillColumnMajorRun(data: Uint8Array, height: number, width: number, start: number, run: number): void {
  let x = Math.floor(start / height);
  let y = start - x * height;
  for (let n = 0; n < run; n++) {
    data[y * width + x] = 1;
    if (++y === height) {
      y = 0;
      x++;
    }
  }
}

const CHUNK_BITS = 0x1f;
const SIGN_BIT = 0x10;
const MORE_BIT = 0x20;
const ASCII_OFFSET = 48;

/** pycocotools rleToString: counts after the third become deltas to the count two before, written as 5-bit chunks. */
export function encodeRleCounts(counts: ArrayLike<number>): string {
  const codes: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    let x = i > 2 ? counts[i] - counts[i - 2] : counts[i];
    let more = true;
    while (more) {
      // Floor division instead of `>> 5` keeps counts beyond 2^31 exact.
      let chunk = ((x % 32) + 32) % 32;
      x = (x - chunk) / 32;
      more = chunk & SIGN_BIT ? x !== -1 : x !== 0;
      if (more) chunk |= MORE_BIT;
      codes.push(chunk + ASCII_OFFSET);
    }
  }
  return charCodesToString(codes);
}

/** pycocotools rleFrString: the inverse of encodeRleCounts. */
export function decodeRleCounts(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let scale = 1;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Sam3Error("BAD_REQUEST", "Compressed RLE string ends inside a count");
      const c = s.charCodeAt(p++) - ASCII_OFFSET;
      if (c < 0 || c > 63) throw new Sam3Error("BAD_REQUEST", `Invalid character in compressed RLE string at ${p - 1}`);
      x += (c & CHUNK_BITS) * scale;
      scale *= 32;
      more = (c & MORE_BIT) !== 0;
      if (!more && c & SIGN_BIT) x -= scale;
    }
    const m = counts.length;
    counts.push(m > 2 ? x + counts[m - 2] : x);
  }
  return counts;
}

export function maskToCocoRle(mask: Mask): CompressedCocoRle {
  return { size: [mask.height, mask.width], counts: encodeRleCounts(maskToRleCounts(mask)) };
}

export function cocoRleToMask(rle: CocoRle): Mask {
  const [height, width] = Array.isArray(rle?.size) ? rle.size : [NaN, NaN];
  if (!(Number.isInteger(height) && Number.isInteger(width) && height >= 0 && width >= 0 && height * width <= LIMITS.pixels)) {
    throw new Sam3Error("BAD_REQUEST", `an RLE size must be [height, width] of whole numbers >= 0 within ${LIMITS.pixels} pixels`);
  }
  if (typeof rle.counts !== "string" && !Array.isArray(rle.counts)) throw new Sam3Error("BAD_REQUEST", "RLE counts must be a string or an array of numbers");
  const counts = typeof rle.counts === "string" ? decodeRleCounts(rle.counts) : rle.counts;
  return rleCountsToMask(counts, height, width);
}

/** Spread in bounded slices: String.fromCharCode(...codes) overflows the call stack on long strings. */
function charCodesToString(codes: number[]): string {
  const SLICE = 8192;
  let s = "";
  for (let i = 0; i < codes.length; i += SLICE) s += String.fromCharCode(...codes.slice(i, i + SLICE));
  return s;
}
