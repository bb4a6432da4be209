import { describe, expect, it } from "vitest";
import { antialiasTaps, resizeRgb } from "../../core/image/resize";
import { resizeAndThreshold } from "../../core/masks/resize";

describe("antialiased 8-bit image resize", () => {
  it("leaves an image unchanged at its own size", () => {
    const src = Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 37) % 256);
    expect(resizeRgb(src, 7, 5, 7, 5)).toEqual(src);
  });

  it("keeps a flat colour flat when growing and shrinking", () => {
    const src = new Uint8Array(9 * 6 * 3).fill(128);
    expect(new Set(resizeRgb(src, 9, 6, 20, 11))).toEqual(new Set([128]));
    expect(new Set(resizeRgb(src, 9, 6, 4, 2))).toEqual(new Set([128]));
  });

  it("averages the whole footprint when shrinking (antialiasing), not just two neighbours", () => {
    // alternating black / white columns halved: plain bilinear would sample one column; the filter sees both
    const src = new Uint8Array(8 * 2 * 3);
    for (let x = 0; x < 8; x += 2) for (let y = 0; y < 2; y++) src.fill(255, (y * 8 + x) * 3, (y * 8 + x) * 3 + 3);
    const out = resizeRgb(src, 8, 2, 4, 2);
    for (const v of out) expect(Math.abs(v - 128)).toBeLessThanOrEqual(32);
  });

  it("quantises weights that sum to one within rounding", () => {
    for (const [from, to] of [[640, 336], [480, 1008], [3, 1008], [1008, 3]]) {
      const taps = antialiasTaps(from, to);
      for (let i = 0; i < to; i++) {
        let sum = 0;
        for (let k = 0; k < taps.count[i]; k++) sum += taps.weights[i * taps.maxTaps + k];
        expect(Math.abs(sum - 2 ** taps.precision)).toBeLessThanOrEqual(taps.count[i]);
      }
      expect(Math.max(...taps.weights)).toBeLessThan(2 ** 15);
    }
  });
});

describe("mask logits resize (bilinear, align_corners=False) and threshold", () => {
  // torch.nn.functional.interpolate([[0,1],[2,3]], size=4, mode="bilinear", align_corners=False) =
  // [[0,.25,.75,1],[.5,.75,1.25,1.5],[1.5,1.75,2.25,2.5],[2,2.25,2.75,3]]
  const map = Float32Array.from([0, 1, 2, 3]);

  it("matches torch's interpolation when upsampling", () => {
    const mask = resizeAndThreshold(map, 2, 2, 4, 4, 1.0);
    expect(Array.from(mask.data)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const tight = resizeAndThreshold(map, 2, 2, 4, 4, 2.6);
    expect(Array.from(tight.data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  });

  it("handles non-square targets and shrinking", () => {
    const big = Float32Array.from({ length: 16 }, (_, i) => i);
    // 4x4 -> 2x2 samples at source 0.5 and 2.5: values 2.5, 4.5, 10.5, 12.5
    expect(Array.from(resizeAndThreshold(big, 4, 4, 2, 2, 4.5).data)).toEqual([0, 0, 1, 1]);
    const wide = resizeAndThreshold(map, 2, 2, 6, 3, 1.5);
    expect(wide.width).toBe(6);
    expect(wide.height).toBe(3);
  });
});
