import { describe, expect, it } from "vitest";
import type { Mask } from "../../core/masks/mask";
import { associate, disjointMasks, fillHoles, HotStart, suppressRecentlyOccluded, suppressShrunk } from "../../core/video/association";
import { VIDEO_RULES } from "../../core/video/rules";

const N = 10;
/** A rectangle [x1, x2) x [y1, y2) on a 10 x 10 low-res grid. */
function rect(x1: number, y1: number, x2: number, y2: number): Uint8Array {
  const data = new Uint8Array(N * N);
  for (let y = y1; y < y2; y++) data.fill(1, y * N + x1, y * N + x2);
  return data;
}
const logits = (m: Uint8Array) => Float32Array.from(m, (v) => (v ? 1 : -1));
const rules = { ...VIDEO_RULES };

describe("detections and tracks, as the reference associates them", () => {
  const tracks = [
    { id: 7, mask: rect(0, 0, 4, 4) },
    { id: 9, mask: rect(6, 0, 10, 4) },
    { id: 11, mask: new Uint8Array(N * N) },
  ];

  it("a track is matched by any detection at IoU >= 0.5; a detection is new only below 0.1 with every track and at the new-object score", () => {
    const detections = [
      { mask: rect(0, 0, 4, 3), score: 0.6 }, // IoU 0.75 with 7: matches it
      { mask: rect(4, 6, 8, 10), score: 0.75 }, // overlaps nothing, confident: new
      { mask: rect(0, 6, 4, 10), score: 0.69 }, // overlaps nothing, not confident enough
      { mask: rect(8, 0, 10, 4), score: 0.95 }, // IoU 0.5 with 9
    ];
    const a = associate(tracks, detections, rules);
    expect(a.births).toEqual([1]);
    // an empty track is neither matched nor unmatched
    expect(a.unmatched).toEqual([]);
    expect(a.matchedTracks).toEqual([[7], [], [], [9]]);
  });

  it("many tracks may share one detection; the confirming detection needs high score and IoU", () => {
    const a = associate(tracks.slice(0, 2), [{ mask: rect(0, 0, 10, 4), score: 0.9 }], rules);
    expect(a.matchedTracks).toEqual([[7, 9]]);
    expect(a.unmatched).toEqual([7, 9]);
    expect(a.confirmed.size).toBe(0);
    const b = associate(tracks.slice(0, 2), [{ mask: rect(0, 0, 4, 4), score: 0.85 }], rules);
    expect([...b.confirmed]).toEqual([[7, 0]]);
  });
});

describe("hot start", () => {
  it("removes a young object unmatched on hotstartUnmatchThresh frames, not an old one", () => {
    const hot = new HotStart(rules);
    hot.observe(0, false, [1], [], []);
    let removed = new Set<number>();
    for (let t = 20; t < 20 + rules.hotstartUnmatchThresh; t++) removed = hot.observe(t, false, t === 20 ? [2] : [], [1, 2], []).removed;
    expect([...removed]).toEqual([2]);
  });

  it("removes the later of two objects sharing a detection on hotstartDupThresh frames", () => {
    const hot = new HotStart(rules);
    hot.observe(5, true, [1], [], []);
    let removed = new Set<number>();
    for (let t = 4; t > 4 - rules.hotstartDupThresh; t--) removed = hot.observe(t, true, t === 4 ? [2] : [], [], [[1, 2]]).removed;
    expect([...removed]).toEqual([2]);
  });

  it("keep-alive: hides an old object once its counter runs out, only when the rules ask for it", () => {
    const run = (suppress: number) => {
      const hot = new HotStart({ ...rules, suppressUnmatchedOnlyWithinHotstart: suppress, initTrkKeepAlive: 2 });
      hot.observe(0, false, [1], [], []);
      return [20, 21, 22].map((t) => hot.observe(t, false, [], [1], []).hidden.has(1));
    };
    expect(run(0)).toEqual([false, true, true]);
    expect(run(1)).toEqual([false, false, false]);
  });
});

describe("occlusion and overlap before memories are written", () => {
  it("hides the most recently occluded of two heavily overlapping objects", () => {
    const last = new Map([[1, 3], [2, 8]]);
    const hidden = suppressRecentlyOccluded([{ id: 1, mask: rect(0, 0, 5, 5) }, { id: 2, mask: rect(0, 0, 5, 5) }], last, 10, false, rules, new Set());
    expect([...hidden]).toEqual([2]);
    expect(last.get(2)).toBe(10);
    // never occluded: nobody is hidden
    expect(suppressRecentlyOccluded([{ id: 3, mask: rect(0, 0, 5, 5) }, { id: 4, mask: rect(0, 0, 5, 5) }], new Map(), 10, false, rules, new Set()).size).toBe(0);
  });

  it("writes an object that loses 70% of its area to another as absent", () => {
    const big = Float32Array.from(logits(rect(0, 0, 10, 10)), (v) => v * 2);
    const small = logits(rect(0, 0, 5, 5));
    const [a, b] = suppressShrunk([big, small]);
    expect(a).toBe(big);
    expect(Math.max(...b)).toBeLessThanOrEqual(-10);
  });

  it("fills small holes and clears small specks, 8-connected", () => {
    const m = rect(0, 0, 6, 6);
    m[2 * N + 2] = 0; // a one-pixel hole
    m[9 * N + 9] = 1; // a speck
    m[8 * N + 8] = 1; // diagonal neighbour: the same speck
    const out = fillHoles({ logits: logits(m), size: N }, 4);
    expect(out[2 * N + 2]).toBeCloseTo(0.1);
    expect(out[9 * N + 9]).toBeCloseTo(-0.1);
    expect(out[8 * N + 8]).toBeCloseTo(-0.1);
    expect(out[0]).toBe(1);
  });
});

describe("disjoint masks", () => {
  it("gives each pixel to the highest-scoring object", () => {
    const mask = (m: Uint8Array): Mask => ({ width: N, height: N, data: m });
    const [a, b] = disjointMasks([
      { mask: mask(rect(0, 0, 6, 6)), score: 0.5 },
      { mask: mask(rect(4, 4, 10, 10)), score: 0.9 },
    ]);
    expect(a.data[5 * N + 5]).toBe(0);
    expect(b.data[5 * N + 5]).toBe(1);
  });
});
