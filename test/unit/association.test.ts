import { describe, expect, it } from "vitest";
import type { Mask } from "../../core/masks/mask";
import { associateDetections, disjointMasks, HotStartFilter, occludedTracks } from "../../core/video/association";
import { VIDEO_RULES } from "../../core/video/rules";

const W = 20;
const H = 10;
/** A rectangle mask [x1, x2) x [y1, y2) on a 20 x 10 frame. */
function rect(x1: number, y1: number, x2: number, y2: number): Mask {
  const data = new Uint8Array(W * H);
  for (let y = y1; y < y2; y++) data.fill(1, y * W + x1, y * W + x2);
  return { width: W, height: H, data };
}

describe("detection to track association", () => {
  const tracks = [
    { id: 7, mask: rect(0, 0, 4, 4), score: 0.9 },
    { id: 9, mask: rect(10, 0, 14, 4), score: 0.8 },
  ];

  it("confirms tracks by mask IoU >= 0.5 and starts objects only for confident, non-overlapping detections", () => {
    const detections = [
      { mask: rect(0, 0, 4, 3), score: 0.6 }, // IoU 0.75 with 7
      { mask: rect(16, 5, 20, 10), score: 0.75 }, // overlaps nothing, confident: new
      { mask: rect(16, 0, 20, 4), score: 0.69 }, // overlaps nothing, not confident enough
      { mask: rect(12, 0, 16, 4), score: 0.95 }, // IoU 1/3 with 9: neither confirms nor is new
    ];
    const { matches, births } = associateDetections(tracks, detections);
    expect([...matches]).toEqual([[7, 0]]);
    expect(births).toEqual([1]);
  });

  it("gives each track and each detection at most one partner, best IoU first", () => {
    const detections = [
      { mask: rect(0, 0, 4, 2), score: 0.9 }, // IoU 0.5 with 7
      { mask: rect(0, 0, 4, 4), score: 0.9 }, // IoU 1 with 7
    ];
    expect([...associateDetections(tracks, detections).matches]).toEqual([[7, 1]]);
  });

  it("starts objects for every confident detection when nothing is tracked", () => {
    expect(associateDetections([], [{ mask: rect(0, 0, 2, 2), score: 0.7 }, { mask: rect(5, 5, 6, 6), score: 0.2 }]).births).toEqual([0]);
  });

  it("treats a barely touching detection as a possible duplicate, not a new object", () => {
    // IoU 0.125 with track 7: above newObjectMaxIoU 0.1, below confirmIoU 0.5
    const { matches, births } = associateDetections(tracks, [{ mask: rect(2, 0, 6, 4), score: 0.99 }]);
    expect(matches.size).toBe(0);
    expect(births).toEqual([]);
  });
});

describe("occlusion and disjoint masks", () => {
  it("hides the weaker of two heavily overlapping tracks only", () => {
    const hidden = occludedTracks([
      { id: 1, mask: rect(0, 0, 10, 10), score: 0.6 },
      { id: 2, mask: rect(0, 0, 9, 10), score: 0.9 }, // IoU 0.9 with 1
      { id: 3, mask: rect(5, 0, 15, 10), score: 0.5 }, // IoU 1/3 with 1
    ]);
    expect([...hidden]).toEqual([1]);
  });

  it("gives every pixel to the highest-scoring object that claims it", () => {
    const [a, b] = disjointMasks([
      { mask: rect(0, 0, 10, 10), score: 0.5 },
      { mask: rect(5, 0, 15, 10), score: 0.9 },
    ]);
    expect(a.data.reduce((s, v) => s + v, 0)).toBe(50);
    expect(b.data.reduce((s, v) => s + v, 0)).toBe(100);
    for (let i = 0; i < a.data.length; i++) expect(a.data[i] & b.data[i]).toBe(0);
  });
});

describe("hot-start filter", () => {
  it("drops a newborn unmatched on 8 of its first frames", () => {
    const filter = new HotStartFilter();
    filter.born(4);
    const verdicts = Array.from({ length: 8 }, () => filter.observe(4, false, false));
    expect(verdicts).toEqual([false, false, false, false, false, false, false, true]);
  });

  it("drops a newborn duplicating an older object on 8 frames", () => {
    const filter = new HotStartFilter();
    filter.born(4);
    const verdicts = Array.from({ length: 8 }, () => filter.observe(4, true, true));
    expect(verdicts.at(-1)).toBe(true);
  });

  it("keeps a newborn that is matched often enough, and stops watching it after the hot-start window", () => {
    const filter = new HotStartFilter();
    filter.born(4);
    // unmatched on 7 of 15 frames: never reaches 8
    for (let f = 0; f < VIDEO_RULES.hotStartFrames; f++) expect(filter.observe(4, f % 2 === 0, false)).toBe(false);
    expect(filter.onProbation(4)).toBe(false);
    expect(filter.observe(4, false, false)).toBe(false);
  });

  it("never drops objects it was not told about (point-prompted ones)", () => {
    const filter = new HotStartFilter();
    for (let f = 0; f < 20; f++) expect(filter.observe(1, false, true)).toBe(false);
  });
});
