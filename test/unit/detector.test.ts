import { describe, expect, it } from "vitest";
import { boxPromptTensors, selectDetections, type DetectorOutput } from "../../core/detector";

const logit = (p: number) => Math.log(p / (1 - p));

/** Three queries on a 4x4 low-res grid; presence logit 0 halves every score. */
function output(): DetectorOutput {
  const masks = new Float32Array(3 * 16).fill(-1);
  const paint = (q: number, cells: number[]) => cells.forEach((c) => (masks[q * 16 + c] = 1));
  paint(0, [0, 1, 4, 5]);
  paint(1, [0, 1, 4, 5, 6]); // overlaps query 0 heavily
  paint(2, [10, 11, 14, 15]);
  return {
    masks,
    maskSize: 4,
    boxes: Float32Array.from([0, 0, 0.5, 0.5, 0, 0, 0.6, 0.5, 0.5, 0.5, 1.2, 1]),
    logits: Float32Array.from([logit(0.9), logit(0.95), logit(0.7)]),
    presenceLogit: 0,
  };
}

describe("detection selection", () => {
  it("scores are sigmoid(logit) x sigmoid(presence), kept above the threshold, best first", () => {
    const kept = selectDetections(output(), 100, 50, 0.4);
    expect(kept.map((d) => d.query)).toEqual([1, 0]);
    expect(kept[0].score).toBeCloseTo(0.475, 6);
    expect(kept[1].score).toBeCloseTo(0.45, 6);
  });

  it("threshold 0 keeps every query", () => {
    expect(selectDetections(output(), 100, 50, 0)).toHaveLength(3);
  });

  it("boxes are scaled to pixels and clipped to the image", () => {
    const [, , third] = selectDetections(output(), 100, 50, 0);
    expect(third.box).toEqual([50, 25, 100, 50]);
  });

  it("mask-IoU suppression drops the overlapping weaker query only", () => {
    expect(selectDetections(output(), 100, 50, 0, 0.5).map((d) => d.query)).toEqual([1, 2]);
    expect(selectDetections(output(), 100, 50, 0, 0.9).map((d) => d.query)).toEqual([1, 0, 2]);
  });
});

describe("exemplar box prompt", () => {
  it("converts pixel boxes to normalised cx, cy, w, h with labels 1 / 0", () => {
    const { boxes, boxLabels } = boxPromptTensors([{ box: [0, 0, 50, 20] }, { box: [50, 20, 100, 40], positive: false }], 100, 40);
    expect(Array.from(boxes.data as Float32Array)).toEqual([0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 0.5, 0.5]);
    expect(Array.from(boxLabels.data as BigInt64Array)).toEqual([1n, 0n]);
    expect(boxes.dims).toEqual([1, 2, 4]);
  });

  it("pads with one ignored box when there are none", () => {
    const { boxes, boxLabels } = boxPromptTensors([], 100, 40);
    expect(boxes.dims).toEqual([1, 1, 4]);
    expect(Array.from(boxLabels.data as BigInt64Array)).toEqual([-10n]);
  });
});
