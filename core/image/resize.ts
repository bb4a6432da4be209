/**
 * Antialiased bilinear resize of 8-bit RGB, computed as torch / torchvision do for uint8 images (fixed-point
 * weights, horizontal pass first, rounded to 8 bits between passes), so the model sees the very pixels the
 * reference processor feeds it.
 */

/** Fixed-point taps of one output index along one axis. */
interface AntialiasTaps {
  start: Int32Array;
  count: Int32Array;
  /** count[i] weights per output index, stored at i * maxTaps. */
  weights: Int32Array;
  maxTaps: number;
  precision: number;
}

const tapsCache = new Map<string, AntialiasTaps>();

/** Taps for one resize, remembered: video frames repeat the same sizes. */
function cachedTaps(inSize: number, outSize: number): AntialiasTaps {
  const key = `${inSize}>${outSize}`;
  let taps = tapsCache.get(key);
  if (!taps) {
    if (tapsCache.size > 32) tapsCache.clear();
    tapsCache.set(key, (taps = antialiasTaps(inSize, outSize)));
  }
  return taps;
}

/** Triangle-filter taps, widened by the scale when shrinking (the antialiasing), then quantised. */
export function antialiasTaps(inSize: number, outSize: number): AntialiasTaps {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const real = new Float64Array(outSize * maxTaps);
  let largest = 0;
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const from = Math.max(Math.trunc(centre - support + 0.5), 0);
    const to = Math.min(Math.trunc(centre + support + 0.5), inSize);
    let total = 0;
    for (let j = from; j < to; j++) {
      const w = Math.max(0, 1 - Math.abs((j - centre + 0.5) / support));
      real[i * maxTaps + j - from] = w;
      total += w;
    }
    for (let k = 0; k < to - from; k++) {
      real[i * maxTaps + k] = total ? real[i * maxTaps + k] / total : 0;
      largest = Math.max(largest, real[i * maxTaps + k]);
    }
    start[i] = from;
    count[i] = to - from;
  }
  // the most fractional bits that keep every weight inside a signed 16-bit integer
  let precision = 0;
  while (precision < 22 && Math.trunc(0.5 + largest * 2 ** (precision + 1)) < 1 << 15) precision++;
  const weights = Int32Array.from(real, (w) => Math.trunc(0.5 + w * 2 ** precision));
  return { start, count, weights, maxTaps, precision };
}

/** Resizes along rows (stride 1 between taps) or columns (stride = row length), three channels. */
function resizeAxis(src: Uint8Array, dst: Uint8Array, taps: AntialiasTaps, lines: number, lineStride: number, tapStride: number, outLineStride: number, outStep: number) {
  const { start, count, weights, maxTaps, precision } = taps;
  const half = 1 << (precision - 1);
  const outCount = start.length;
  for (let line = 0; line < lines; line++) {
    const lineBase = line * lineStride;
    const outBase = line * outLineStride;
    for (let i = 0; i < outCount; i++) {
      let r = half, g = half, b = half;
      let at = lineBase + start[i] * tapStride;
      const wBase = i * maxTaps;
      for (let k = 0; k < count[i]; k++, at += tapStride) {
        const w = weights[wBase + k];
        r += w * src[at];
        g += w * src[at + 1];
        b += w * src[at + 2];
      }
      const o = outBase + i * outStep;
      dst[o] = clamp8(r >> precision);
      dst[o + 1] = clamp8(g >> precision);
      dst[o + 2] = clamp8(b >> precision);
    }
  }
}

const clamp8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

export function resizeRgb(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  const horizontal = new Uint8Array(outWidth * height * 3);
  resizeAxis(src, horizontal, cachedTaps(width, outWidth), height, width * 3, 3, outWidth * 3, 3);
  const out = new Uint8Array(outWidth * outHeight * 3);
  resizeAxis(horizontal, out, cachedTaps(height, outHeight), outWidth, 3, outWidth * 3, 3, outWidth * 3);
  return out;
}
