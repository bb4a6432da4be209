import { describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { checkBox, checkPoint, checkText, promptPath } from "../../core/prompts";
import { bestCandidate, singleMaskToken, pointPromptTensors } from "../../core/tracker";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Sam3Error);
    return (e as Sam3Error).code;
  }
  return "no error";
};

describe("prompt routing and validation", () => {
  it("sends text (with or without boxes) to the detector and clicks / one box to the tracker", () => {
    expect(promptPath({ text: "dog" })).toBe("detector");
    expect(promptPath({ text: "dog", boxes: [{ box: [0, 0, 1, 1] }, { box: [1, 1, 2, 2] }] })).toBe("detector");
    expect(promptPath({ points: [{ x: 1, y: 1 }] })).toBe("tracker");
    expect(promptPath({ boxes: [{ box: [0, 0, 1, 1] }] })).toBe("tracker");
  });

  it("rejects prompts that mean nothing or mix heads", () => {
    expect(code(() => promptPath({}))).toBe("BAD_PROMPT");
    expect(code(() => promptPath({ text: "dog", points: [{ x: 1, y: 1 }] }))).toBe("BAD_PROMPT");
    expect(code(() => promptPath({ boxes: [{ box: [0, 0, 1, 1] }, { box: [1, 1, 2, 2] }] }))).toBe("BAD_PROMPT");
  });

  it("rejects empty text and keeps the rest trimmed", () => {
    expect(code(() => checkText("   "))).toBe("BAD_PROMPT");
    expect(checkText("  red car ")).toBe("red car");
  });

  it("rejects points outside the image and accepts its edges", () => {
    expect(code(() => checkPoint({ x: 641, y: 10 }, 640, 480))).toBe("BAD_PROMPT");
    expect(code(() => checkPoint({ x: -1, y: 10 }, 640, 480))).toBe("BAD_PROMPT");
    expect(code(() => checkPoint({ x: NaN, y: 10 }, 640, 480))).toBe("BAD_PROMPT");
    expect(code(() => checkPoint({ x: 640, y: 480 }, 640, 480))).toBe("no error");
  });

  it("rejects inverted, empty and out-of-image boxes", () => {
    expect(code(() => checkBox({ box: [200, 10, 100, 50] }, 640, 480))).toBe("BAD_PROMPT");
    expect(code(() => checkBox({ box: [10, 10, 10, 50] }, 640, 480))).toBe("BAD_PROMPT");
    expect(code(() => checkBox({ box: [0, 0, 700, 50] }, 640, 480))).toBe("BAD_PROMPT");
    expect(code(() => checkBox({ box: [0, 0, 640, 480] }, 640, 480))).toBe("no error");
  });
});

describe("tracker prompt tensors", () => {
  const image = { width: 640, height: 480 };

  it("puts clicks in the model frame, box corners first with labels 2 and 3", () => {
    const { points, labels } = pointPromptTensors({ points: [{ x: 320, y: 120 }, { x: 0, y: 480, positive: false }], box: { box: [64, 48, 640, 480] }, image, imageSize: 1008 });
    expect(points.dims).toEqual([1, 1, 4, 2]);
    expect(Array.from(points.data as Float32Array)).toEqual([100.8, 100.8, 1008, 1008, 504, 252, 0, 1008].map(Math.fround));
    expect(Array.from(labels.data as BigInt64Array)).toEqual([2n, 3n, 1n, 0n]);
  });

  it("feeds the box through its own input for exports that have one", () => {
    const withPoint = pointPromptTensors({ points: [{ x: 320, y: 240 }], box: { box: [64, 48, 640, 480] }, image, imageSize: 1008, boxInput: true });
    expect(Array.from(withPoint.labels.data as BigInt64Array)).toEqual([1n]);
    expect(withPoint.boxes.dims).toEqual([1, 1, 4]);
    expect(Array.from(withPoint.boxes.data as Float32Array)).toEqual([100.8, 100.8, 1008, 1008].map(Math.fround));
    const boxOnly = pointPromptTensors({ points: [], box: { box: [64, 48, 640, 480] }, image, imageSize: 1008, boxInput: true });
    // a box alone goes with zero points, as HF and transformers.js feed it
    expect(boxOnly.points.dims).toEqual([1, 1, 0, 2]);
    expect(boxOnly.labels.dims).toEqual([1, 1, 0]);
    const clicksOnly = pointPromptTensors({ points: [{ x: 1, y: 1 }], image, imageSize: 1008, boxInput: true });
    expect(clicksOnly.boxes.dims).toEqual([1, 0, 4]);
  });
});

describe("tracker candidate choice", () => {
  it("picks the candidate with the highest IoU estimate, wherever it is", () => {
    expect(bestCandidate([0.9, 0.2, 0.3])).toBe(0);
    expect(bestCandidate([0.1, 0.2, 0.3])).toBe(2);
    expect(bestCandidate([0.1, 0.8, 0.3])).toBe(1);
    expect(bestCandidate([0.9, 0.2, 0.3, 0.1], 1)).toBe(2);
  });

  it("keeps the single-mask token while its mask is stable, else takes the best of the three candidates", () => {
    const out = (token0: number[]) => ({
      masks: Float32Array.from([...token0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      maskSize: 2,
      iouScores: Float32Array.from([0.5, 0.1, 0.9, 0.2]),
      objectScoreLogit: 0,
    });
    expect(singleMaskToken(out([3, 3, -3, -3]))).toBe(0);
    // one pixel of four sits within +-0.05 of the threshold: stability 1/2 < 0.98
    expect(singleMaskToken(out([3, 0.01, -3, -3]))).toBe(2);
    expect(singleMaskToken(out([-3, -3, -3, -3]))).toBe(0);
  });
});
