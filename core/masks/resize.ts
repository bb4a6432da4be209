import type { Mask } from "./mask";

/** The two source indices and the weight of the second for each target index of a bilinear resize along one axis (torch's interpolate, align_corners=False). */
function bilinearNeighbours(source: number, target: number) {
  const lo = new Int32Array(target);
  const hi = new Int32Array(target);
  const weight = new Float64Array(target);
  const scale = source / target;
  for (let i = 0; i < target; i++) {
    const at = Math.max((i + 0.5) * scale - 0.5, 0);
    const l = Math.min(Math.floor(at), source - 1);
    lo[i] = l;
    hi[i] = Math.min(l + 1, source - 1);
    weight[i] = at - l;
  }
  return { lo, hi, weight };
}

/**
 * Bilinearly resizes a low-res map (e.g. 288x288 mask logits) to width x height and keeps the pixels above a
 * threshold, without materialising the full-size float map.
 */
export function resizeAndThreshold(
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  width: number,
  height: number,
  threshold: number,
): Mask {
  const xs = bilinearNeighbours(mapWidth, width);
  const ys = bilinearNeighbours(mapHeight, height);
  const data = new Uint8Array(width * height);
  const rowLo = new Float64Array(width);
  const rowHi = new Float64Array(width);
  let cachedLo = -1;
  let cachedHi = -1;
  const fillRow = (row: Float64Array, y: number) => {
    const base = y * mapWidth;
    for (let x = 0; x < width; x++) {
      const a = map[base + xs.lo[x]];
      row[x] = a + (map[base + xs.hi[x]] - a) * xs.weight[x];
    }
  };
  for (let y = 0; y < height; y++) {
    // consecutive output rows mostly share their two source rows
    if (ys.lo[y] !== cachedLo) {
      fillRow(rowLo, ys.lo[y]);
      cachedLo = ys.lo[y];
    }
    if (ys.hi[y] !== cachedHi) {
      fillRow(rowHi, ys.hi[y]);
      cachedHi = ys.hi[y];
    }
    const w = ys.weight[y];
    const out = y * width;
    for (let x = 0; x < width; x++) {
      const v = rowLo[x] + (rowHi[x] - rowLo[x]) * w;
      data[out + x] = v > threshold ? 1 : 0;
    }
  }
  return { width, height, data };
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** A decoder's [n, size, size] mask logits (batch dimension dropped) and their side. */
export function maskLogits(masks: { data: unknown; dims: readonly number[] }): { masks: Float32Array; maskSize: number } {
  return { masks: masks.data as Float32Array, maskSize: masks.dims[masks.dims.length - 1] };
}

/** Each output index's first source index and normalised triangle-filter weights (torch's antialiased bilinear). */
function triangleTaps(source: number, target: number) {
  const scale = source / target;
  const support = Math.max(scale, 1);
  const taps: { from: number; weights: Float64Array }[] = [];
  for (let i = 0; i < target; i++) {
    const centre = (i + 0.5) * scale;
    const from = Math.max(Math.trunc(centre - support + 0.5), 0);
    const to = Math.min(Math.trunc(centre + support + 0.5), source);
    const weights = new Float64Array(to - from);
    let total = 0;
    for (let j = from; j < to; j++) total += weights[j - from] = Math.max(0, 1 - Math.abs((j - centre + 0.5) / support));
    for (let k = 0; k < weights.length; k++) weights[k] = total ? weights[k] / total : 0;
    taps.push({ from, weights });
  }
  return taps;
}

/**
 * A float map resized as torch's `interpolate(mode="bilinear", align_corners=False, antialias=True)`: plain
 * bilinear when enlarging, a triangle filter as wide as the scale when shrinking.
 */
export function resizeMap(src: Float32Array, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  if (width === outWidth && height === outHeight) return src.slice();
  const xs = triangleTaps(width, outWidth);
  const ys = triangleTaps(height, outHeight);
  const rows = new Float64Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      const { from, weights } = xs[x];
      let v = 0;
      for (let k = 0; k < weights.length; k++) v += weights[k] * src[y * width + from + k];
      rows[y * outWidth + x] = v;
    }
  }
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const { from, weights } = ys[y];
    for (let x = 0; x < outWidth; x++) {
      let v = 0;
      for (let k = 0; k < weights.length; k++) v += weights[k] * rows[(from + k) * outWidth + x];
      out[y * outWidth + x] = v;
    }
  }
  return out;
}
