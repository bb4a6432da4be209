import { describe, expect, it } from "vitest";
import { seededRandom } from "../support/masks";
import { Mask, emptyMask, maskArea, maskBox } from "../../core/masks/mask";
import { fineRadius, refineMask, removeSmallRegions, smoothMask } from "../../core/masks/refine";
import { Sam3Error } from "../../core/errors";

function setPixels(mask: Mask, pixels: Array<[number, number]>, value = 1): Mask {
  for (const [x, y] of pixels) mask.data[y * mask.width + x] = value;
  return mask;
}

function fillRect(mask: Mask, x1: number, y1: number, x2: number, y2: number, value = 1): Mask {
  for (let y = y1; y < y2; y++) mask.data.fill(value, y * mask.width + x1, y * mask.width + x2);
  return mask;
}

function fillDisc(mask: Mask, cx: number, cy: number, radius: number): Mask {
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if ((x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2) mask.data[y * mask.width + x] = 1;
    }
  }
  return mask;
}

function pixel(mask: Mask, x: number, y: number): number {
  return mask.data[y * mask.width + x];
}

/** Set pixels with an unset (or out-of-image) 4-neighbour. */
function perimeter(mask: Mask): number {
  const { width, height } = mask;
  const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < width && y < height ? pixel(mask, x, y) : 0);
  let n = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (at(x, y) && !(at(x - 1, y) && at(x + 1, y) && at(x, y - 1) && at(x, y + 1))) n++;
    }
  }
  return n;
}


describe("removeSmallRegions", () => {
  it("removes a 3-pixel speck at maxArea 16 and keeps it at maxArea 2", () => {
    const mask = setPixels(emptyMask(100, 80), [[40, 30], [41, 30], [41, 31]]);
    expect(maskArea(removeSmallRegions(mask, 16))).toBe(0);
    expect(removeSmallRegions(mask, 2).data).toEqual(mask.data);
  });

  it("fills a 4-pixel hole inside a big square", () => {
    const mask = fillRect(emptyMask(100, 100), 20, 20, 80, 80);
    const holed = fillRect(fillRect(emptyMask(100, 100), 20, 20, 80, 80), 50, 50, 52, 52, 0);
    expect(removeSmallRegions(holed, 16).data).toEqual(mask.data);
  });

  it("keeps a 20-pixel hole at maxArea 16", () => {
    const holed = fillRect(fillRect(emptyMask(100, 100), 20, 20, 80, 80), 40, 40, 45, 44, 0);
    expect(removeSmallRegions(holed, 16).data).toEqual(holed.data);
  });

  it("treats a diagonal pair as one 8-connected component", () => {
    const mask = setPixels(emptyMask(50, 50), [[10, 10], [11, 11]]);
    expect(removeSmallRegions(mask, 1).data).toEqual(mask.data);
    expect(maskArea(removeSmallRegions(mask, 2))).toBe(0);
  });

  it("fills a small background region touching the border, as SAM's post-processing does", () => {
    const mask = fillRect(fillRect(emptyMask(60, 60), 0, 0, 60, 60), 0, 0, 2, 2, 0);
    expect(maskArea(removeSmallRegions(mask, 8))).toBe(60 * 60);
  });

  it("never changes a large object", () => {
    const mask = fillDisc(emptyMask(200, 150), 100, 75, 40);
    expect(removeSmallRegions(mask, 100).data).toEqual(mask.data);
  });

  it("returns an unchanged copy for maxArea <= 0", () => {
    const mask = setPixels(emptyMask(20, 20), [[5, 5]]);
    const out = removeSmallRegions(mask, 0);
    expect(out.data).toEqual(mask.data);
    expect(out.data).not.toBe(mask.data);
  });

  it("decides specks and holes from the input, not from each other's result", () => {
    // A 1-pixel hole inside a 3x3 ring: the ring (8 px) is a speck, the hole (1 px) is a hole.
    const ring = setPixels(fillRect(emptyMask(30, 30), 10, 10, 13, 13), [[11, 11]], 0);
    const out = removeSmallRegions(ring, 8);
    expect(pixel(out, 11, 11)).toBe(1);
    expect(maskArea(out)).toBe(1);
  });

  it("keeps full and empty masks as they are", () => {
    const full = fillRect(emptyMask(40, 30), 0, 0, 40, 30);
    expect(maskArea(removeSmallRegions(full, 50))).toBe(40 * 30);
    expect(maskArea(removeSmallRegions(emptyMask(40, 30), 50))).toBe(0);
  });
});

describe("fineRadius", () => {
  it("is 2% of the shorter side at fineness 1, at least 1 when fineness > 0, and 0 at fineness 0", () => {
    expect(fineRadius(1, 4000, 3000)).toBe(60);
    expect(fineRadius(0.5, 4000, 3000)).toBe(30);
    expect(fineRadius(0.01, 100, 100)).toBe(1);
    expect(fineRadius(0, 4000, 3000)).toBe(0);
  });
});

describe("smoothMask", () => {
  it("is the identity at fineness 0", () => {
    const rng = seededRandom(7);
    const mask = emptyMask(64, 48);
    for (let i = 0; i < mask.data.length; i++) mask.data[i] = rng() < 0.5 ? 1 : 0;
    expect(smoothMask(mask, 0).data).toEqual(mask.data);
  });

  it("removes a 1-pixel spike from a square at fineness 1 and keeps its area within a few %", () => {
    const square = fillRect(emptyMask(100, 100), 20, 20, 80, 80);
    const spiked = setPixels(fillRect(emptyMask(100, 100), 20, 20, 80, 80), [[50, 19]]);
    const out = smoothMask(spiked, 1);
    expect(pixel(out, 50, 19)).toBe(0);
    expect(maskBox(out)).toEqual([20, 20, 80, 80]);
    expect(Math.abs(maskArea(out) - maskArea(square)) / maskArea(square)).toBeLessThan(0.03);
  });

  it("shortens the perimeter of a noisy disc", () => {
    const rng = seededRandom(42);
    const disc = fillDisc(emptyMask(200, 200), 100, 100, 50);
    for (let y = 0; y < 200; y++) {
      for (let x = 0; x < 200; x++) {
        const ring = Math.abs(Math.hypot(x - 100, y - 100) - 50);
        if (ring < 3 && rng() < 0.4) disc.data[y * 200 + x] ^= 1;
      }
    }
    const smoothed = smoothMask(disc, 0.5);
    expect(perimeter(smoothed)).toBeLessThan(0.8 * perimeter(disc));
    expect(Math.abs(maskArea(smoothed) - maskArea(disc)) / maskArea(disc)).toBeLessThan(0.05);
  });

  it("keeps full and empty masks as they are", () => {
    const full = fillRect(emptyMask(40, 30), 0, 0, 40, 30);
    expect(maskArea(smoothMask(full, 1))).toBe(40 * 30);
    expect(maskArea(smoothMask(emptyMask(40, 30), 1))).toBe(0);
  });

  it("rejects fineness outside [0, 1] or NaN with a RangeError naming the value", () => {
    const mask = emptyMask(10, 10);
    expect(() => smoothMask(mask, -0.1)).toThrow(Sam3Error);
    expect(() => smoothMask(mask, 1.5)).toThrow(/1\.5.*\[0, 1\]|\[0, 1\].*1\.5/);
    expect(() => smoothMask(mask, Number.NaN)).toThrow(/NaN/);
    expect(() => fineRadius(2, 10, 10)).toThrow(Sam3Error);
    expect(() => refineMask(mask, { fineness: -1 })).toThrow(Sam3Error);
  });
});

describe("refineMask", () => {
  it("is the identity with default options", () => {
    const mask = setPixels(emptyMask(30, 30), [[3, 3], [20, 7]]);
    expect(refineMask(mask).data).toEqual(mask.data);
  });

  it("smooths, then removes specks and fills holes", () => {
    // Radius 1 shrinks a 3x3 speck and a 3x3 hole to 5-pixel crosses, which the area pass then removes.
    const mask = fillRect(fillRect(emptyMask(120, 120), 30, 30, 90, 90), 59, 59, 62, 62, 0);
    fillRect(mask, 5, 5, 8, 8);
    const smoothed = smoothMask(mask, 0.2);
    expect(pixel(smoothed, 6, 6)).toBe(1);
    expect(pixel(smoothed, 60, 60)).toBe(0);
    const out = refineMask(mask, { fineness: 0.2, minRegionArea: 16 });
    expect(pixel(out, 6, 6)).toBe(0);
    expect(pixel(out, 60, 60)).toBe(1);
    expect(maskBox(out)).toEqual([30, 30, 90, 90]);
  });

  it("refines a 4000x3000 mask with one blob", () => {
    const mask = fillDisc(emptyMask(4000, 3000), 2000, 1500, 400);
    const out = refineMask(mask, { fineness: 0.5, minRegionArea: 100 });
    expect(Math.abs(maskArea(out) - maskArea(mask)) / maskArea(mask)).toBeLessThan(0.01);
  });
});
