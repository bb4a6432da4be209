import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../support/masks";
import { Mask, emptyMask, maskArea } from "../../core/masks/mask";
import {
  cocoRleToMask,
  decodeRleCounts,
  encodeRleCounts,
  maskToCocoRle,
  maskToRleCounts,
  rleCountsToMask,
} from "../../core/masks/rle";

function randomMask(width: number, height: number, density: number, random: () => number): Mask {
  const mask = emptyMask(width, height);
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = random() < density ? 1 : 0;
  return mask;
}

/** Ones on rows and columns [a, b) of a 25x25 mask, the pycocotools test fixture. */
function squareMask(a: number, b: number): Mask {
  const mask = emptyMask(25, 25);
  for (let y = a; y < b; y++) for (let x = a; x < b; x++) mask.data[y * 25 + x] = 1;
  return mask;
}

/** Byte comparison: toEqual walks typed arrays element by element, far too slow at 12 Mpixel. */
function expectSamePixels(actual: Mask, expected: Mask): void {
  expect([actual.width, actual.height]).toEqual([expected.width, expected.height]);
  expect(Buffer.compare(actual.data, expected.data)).toBe(0);
}

function expectRoundTrip(mask: Mask): void {
  const counts = maskToRleCounts(mask);
  expect(counts.reduce((s, c) => s + c, 0)).toBe(mask.width * mask.height);
  expect(decodeRleCounts(encodeRleCounts(counts))).toEqual(counts);
  expectSamePixels(cocoRleToMask(maskToCocoRle(mask)), mask);
  expectSamePixels(rleCountsToMask(counts, mask.height, mask.width), mask);
}

describe("pycocotools check vectors", () => {
  it.each([
    [0, 5, "05d00000000d?"],
    [5, 10, "R45d00000000b;"],
    [20, 25, "X`05d00000000"],
  ])("square [%i,%i) encodes to %s", (a, b, expected) => {
    const rle = maskToCocoRle(squareMask(a, b));
    expect(rle).toEqual({ size: [25, 25], counts: expected });
    expect(cocoRleToMask(rle).data).toEqual(squareMask(a, b).data);
  });

  it("counts are column-major with a leading zero run", () => {
    expect(maskToRleCounts(squareMask(0, 5))).toEqual([0, 5, 20, 5, 20, 5, 20, 5, 20, 5, 520]);
    expect(maskToRleCounts(squareMask(20, 25))).toEqual([520, 5, 20, 5, 20, 5, 20, 5, 20, 5]);
  });

  it("stores a negative delta in one chunk with the sign bit", () => {
    // 3 - 10 = -7 -> chunk 25 ('I'), sign bit set and no continuation.
    expect(encodeRleCounts([0, 10, 2, 3])).toBe("0:2I");
    expect(decodeRleCounts("0:2I")).toEqual([0, 10, 2, 3]);
  });
});

describe("round trips", () => {
  it("empty, full and single-pixel masks", () => {
    expect(maskToRleCounts(emptyMask(7, 3))).toEqual([21]);
    const full = emptyMask(7, 3);
    full.data.fill(1);
    expect(maskToRleCounts(full)).toEqual([0, 21]);
    const one = emptyMask(1, 1);
    expect(maskToRleCounts(one)).toEqual([1]);
    one.data[0] = 1;
    expect(maskToRleCounts(one)).toEqual([0, 1]);
    for (const mask of [emptyMask(7, 3), full, one, emptyMask(1, 1)]) expectRoundTrip(mask);
  });

  it("a zero-sized mask encodes as a single empty run", () => {
    expect(maskToCocoRle(emptyMask(0, 0))).toEqual({ size: [0, 0], counts: "0" });
    expect(cocoRleToMask({ size: [0, 0], counts: "0" }).data.length).toBe(0);
  });

  it("random masks of odd shapes, including 1xN and Nx1", () => {
    const random = seededRandom(12345);
    const shapes: [number, number][] = [[1, 17], [17, 1], [3, 5], [13, 7], [31, 29], [1, 1], [64, 1], [1, 64], [101, 53]];
    for (const [width, height] of shapes) {
      for (const density of [0.02, 0.3, 0.5, 0.9]) expectRoundTrip(randomMask(width, height, density, random));
    }
  });

  it("counts above 10000 use several chunks and survive the delta coding", () => {
    const mask = emptyMask(4000, 3000);
    mask.data[5 * 4000 + 1] = 1; // column 1: leading run of 3005
    mask.data[2999 * 4000 + 3999] = 1; // last pixel
    mask.data[1500 * 4000 + 2000] = 1;
    const counts = maskToRleCounts(mask);
    expect(counts).toEqual([3005, 1, 2000 * 3000 + 1500 - 3006, 1, 3999 * 3000 + 2999 - (2000 * 3000 + 1501), 1]);
    expect(encodeRleCounts(counts)).toBe("mm21nlQg5040"); // pycocotools' encoding of the same mask
    expectRoundTrip(mask);
  });

  it("counts beyond 32 bits encode exactly", () => {
    const counts = [2 ** 33 + 7, 1, 3, 2 ** 40, 5];
    expect(decodeRleCounts(encodeRleCounts(counts))).toEqual(counts);
  });

  it("treats any non-zero byte as set", () => {
    const mask = squareMask(5, 10);
    const bytes = { ...mask, data: mask.data.map((v) => v * 255) };
    expect(maskToCocoRle(bytes)).toEqual(maskToCocoRle(mask));
  });

  it("accepts plain number[] counts", () => {
    const mask = squareMask(5, 10);
    expect(cocoRleToMask({ size: [25, 25], counts: maskToRleCounts(mask) }).data).toEqual(mask.data);
  });
});

describe("invalid input", () => {
  it("rejects counts that overrun the mask", () => {
    expect(() => rleCountsToMask([3, 5], 2, 3)).toThrow(/more than/);
  });

  it("rejects negative or fractional counts", () => {
    expect(() => rleCountsToMask([1, -1], 2, 3)).toThrow(/non-negative integer/);
    expect(() => rleCountsToMask([1.5], 2, 3)).toThrow(/non-negative integer/);
  });

  it("rejects truncated and out-of-alphabet strings", () => {
    expect(() => decodeRleCounts("d")).toThrow(/ends inside/);
    expect(() => decodeRleCounts("0 1")).toThrow(/Invalid character/);
  });
});

describe("reference tracker mask", () => {
  const file = path.join(__dirname, "..", "reference", "sam3-tiny-336", "reference_tracker.json");
  const post = JSON.parse(readFileSync(file, "utf8")).post_masks as {
    areas: number[];
    mask0_rle: { size: [number, number]; counts: number[] };
  };

  it("decodes to the recorded area and re-encodes to identical counts", () => {
    const mask = cocoRleToMask(post.mask0_rle);
    expect([mask.height, mask.width]).toEqual(post.mask0_rle.size);
    expect(maskArea(mask)).toBe(post.areas[0]);
    expect(maskToRleCounts(mask)).toEqual(post.mask0_rle.counts);
    expect(decodeRleCounts(maskToCocoRle(mask).counts)).toEqual(post.mask0_rle.counts);
  });
});
