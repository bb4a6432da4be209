import { describe, expect, it, vi } from "vitest";
import { Sam3Error } from "../../core/errors";
import { LIMITS } from "../../core/limits";
import {
  checkBox,
  checkPoint,
  checkText,
  type ImagePrompt,
  parseBoxes,
  parseBoxList,
  parseBoxText,
  parseConcepts,
  parseFramedBox,
  parseFramedBoxList,
  parseFramedPoint,
  parseFramedPointList,
  parsePointList,
  parsePoints,
  parsePointText,
  parseText,
  promptPath,
  PromptSyntaxError,
  toPixelPrompt,
} from "../../core/prompts";
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

/** The Sam3Error a call throws (it must throw one). */
const thrown = (fn: () => unknown): Sam3Error => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Sam3Error);
    return e as Sam3Error;
  }
  throw new Error("expected a Sam3Error, got a result");
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

describe("the prompt grammar (text forms)", () => {
  it("reads points and boxes with an optional :neg or :pos, spaces around numbers allowed", () => {
    expect(parsePointText("120,80")).toEqual({ x: 120, y: 80, positive: true });
    expect(parsePointText(" 1.5 , -2e1 :neg")).toEqual({ x: 1.5, y: -20, positive: false });
    expect(parsePointText("3,4:pos")).toEqual({ x: 3, y: 4, positive: true });
    expect(parseBoxText("10,20,200,180:neg")).toEqual({ box: [10, 20, 200, 180], positive: false });
    expect(parseFramedPoint("4,30,45:neg")).toEqual({ frame: 4, point: { x: 30, y: 45, positive: false } });
    expect(parseFramedBox("0,10,20,200,180")).toEqual({ frame: 0, box: { box: [10, 20, 200, 180], positive: true } });
  });

  it("refuses unknown suffixes, instead of taking them as positive", () => {
    for (const bad of ["1,2:foo", "1,2:", "1,2:neg:pos", "1,2:NEG"]) {
      const e = thrown(() => parsePointText(bad));
      expect(e).toBeInstanceOf(PromptSyntaxError);
      expect(e.code).toBe("BAD_PROMPT");
    }
    expect(thrown(() => parsePointText("1,2:foo")).message).toBe('point "1,2:foo": the only suffixes are :neg (exclude) and :pos (include)');
    expect(thrown(() => parseBoxText("1,2,3,4:x")).message).toMatch(/^box "1,2,3,4:x": the only suffixes/);
  });

  it("refuses wrong counts and anything but plain decimal numbers", () => {
    for (const bad of ["1", "1,2,3", "1,", ",2", "a,b", "0x10,2", "Infinity,2", "1e999,2", "1 2,3", ""]) {
      expect(thrown(() => parsePointText(bad))).toBeInstanceOf(PromptSyntaxError);
    }
    expect(thrown(() => parsePointText("1,2,3")).message).toBe('point "1,2,3" must be 2 comma-separated numbers x,y with an optional :neg or :pos, e.g. 120,80 or 120,80:neg');
    expect(thrown(() => parseBoxText("1,2,3")).message).toMatch(/^box "1,2,3" must be 4 comma-separated numbers x1,y1,x2,y2 with an optional :neg or :pos/);
    expect(thrown(() => parseFramedPoint("0,30")).message).toMatch(/must be 3 comma-separated numbers f,x,y with/);
    expect(thrown(() => parseFramedBox("0,1,2,3")).message).toMatch(/must be 5 comma-separated numbers f,x1,y1,x2,y2 with/);
  });

  it("needs a whole frame number of at least 0", () => {
    for (const bad of ["1.5,3,4", "-1,3,4"]) expect(thrown(() => parseFramedPoint(bad)).message).toMatch(/the frame f must be a whole number of at least 0/);
  });

  it("refuses empty and inverted boxes with core's own message, which is not a syntax error", () => {
    const inverted = thrown(() => parseBoxText("10,10,5,5"));
    expect(inverted).not.toBeInstanceOf(PromptSyntaxError);
    expect(inverted.message).toBe("box [10,10,5,5] is empty or inverted: need x1 < x2 and y1 < y2");
    expect(thrown(() => checkBox({ box: [10, 10, 5, 5] }, 640, 480)).message).toBe(inverted.message);
    expect(thrown(() => parseBoxText("10,10,10,50")).code).toBe("BAD_PROMPT");
    expect(thrown(() => parseFramedBox("0,10,10,5,5")).message).toBe(inverted.message);
  });

  it("cuts a long echo of the text short", () => {
    const message = thrown(() => parsePointText("9".repeat(100_000))).message;
    expect(message.length).toBeLessThan(200);
  });

  it("reads ;- and newline-separated lists, skipping blank items", () => {
    expect(parsePointList("80,60; 12,42:neg\n;\n 1,1 ;")).toEqual([
      { x: 80, y: 60, positive: true },
      { x: 12, y: 42, positive: false },
      { x: 1, y: 1, positive: true },
    ]);
    expect(parseBoxList("0,0,10,10;5,5,20,20:neg").map((b) => b.positive)).toEqual([true, false]);
    expect(parseFramedPointList("0,1,2;3,4,5:neg").map((p) => p.frame)).toEqual([0, 3]);
    expect(parseFramedBoxList("2,0,0,10,10").map((b) => b.frame)).toEqual([2]);
    expect(parsePointList("  ")).toEqual([]);
    expect(thrown(() => parsePointList("1,2; 3,4:foo")).message).toMatch(/"3,4:foo": the only suffixes/);
  });

  it("counts items against the limits, refusing a flood of separators before splitting", () => {
    const many = Array.from({ length: LIMITS.pointsPerPrompt + 1 }, () => "1,1").join(";");
    expect(thrown(() => parsePointList(many))).toMatchObject({ code: "LIMIT_EXCEEDED", message: expect.stringMatching(/65 points is more than the limit of 64 \(pointsPerPrompt\)/) });
    const flood = ";".repeat(10_000_000);
    const split = vi.spyOn(String.prototype, "split");
    expect(thrown(() => parseBoxList(flood)).code).toBe("LIMIT_EXCEEDED");
    expect(split).not.toHaveBeenCalled();
    split.mockRestore();
  });
});

describe("prompts from messages", () => {
  it("reads points as objects, arrays, strings or the text form", () => {
    expect(parsePoints([{ x: 1, y: 2 }, { x: 3, y: 4, positive: false }, { x: 5, y: 6, label: 0 }])).toEqual([
      { x: 1, y: 2, positive: true },
      { x: 3, y: 4, positive: false },
      { x: 5, y: 6, positive: false },
    ]);
    expect(parsePoints([[1, 2], [3, 4, 0], ["5", "6", 1], "7,8:neg"]).map((p) => [p.x, p.y, p.positive])).toEqual([
      [1, 2, true],
      [3, 4, false],
      [5, 6, true],
      [7, 8, false],
    ]);
    expect(parsePoints("1,2;3,4:neg")).toHaveLength(2);
    for (const none of [undefined, null, ""]) expect(parsePoints(none)).toEqual([]);
  });

  it("refuses labels it would have to guess and numbers that are not numbers", () => {
    expect(thrown(() => parsePoints([[1, 2, 2]])).message).toMatch(/must be 1 or true \(include\) or 0 or false \(exclude\)/);
    expect(thrown(() => parsePoints([{ x: 1, y: 2, positive: "false" }])).code).toBe("BAD_PROMPT");
    expect(thrown(() => parsePoints([["a", 2]])).message).toBe("a point needs finite numbers x and y");
    expect(thrown(() => parsePoints([["", 2]])).message).toBe("a point needs finite numbers x and y");
    expect(thrown(() => parsePoints({ x: 1 })).message).toMatch(/points must be a list/);
    expect(thrown(() => parsePoints([7])).message).toMatch(/a point must be/);
  });

  it("reads boxes, one box alone, and refuses inverted ones", () => {
    expect(parseBoxes([10, 20, 50, 70])).toEqual([{ box: [10, 20, 50, 70], positive: true }]);
    expect(parseBoxes([{ box: [0, 0, 5, 5], positive: false }, "1,1,2,2"]).map((b) => b.positive)).toEqual([false, true]);
    expect(thrown(() => parseBoxes([[10, 10, 5, 5]])).message).toMatch(/inverted/);
    expect(thrown(() => parseBoxes([[1, 2, 3]])).message).toBe("a box needs four finite numbers x1,y1,x2,y2");
    expect(thrown(() => parseBoxes(Array.from({ length: 65 }, () => [0, 0, 1, 1]))).code).toBe("LIMIT_EXCEEDED");
  });

  it("reads text and concept lists within the limits", () => {
    expect(parseText("dog")).toBe("dog");
    expect(parseText("")).toBeUndefined();
    expect(parseConcepts(["dog", "cat"])).toEqual(["dog", "cat"]);
    expect(thrown(() => parseText(3)).message).toBe("a text prompt must be a string");
    expect(thrown(() => parseText("x".repeat(LIMITS.textLength + 1))).code).toBe("LIMIT_EXCEEDED");
    expect(thrown(() => parseConcepts(Array.from({ length: LIMITS.conceptsPerPrompt + 1 }, () => "a"))).code).toBe("LIMIT_EXCEEDED");
  });
});

describe("coordinates", () => {
  const prompt = { text: "dog", points: [{ x: 0.5, y: 0.25, positive: false }], boxes: [{ box: [0, 0.5, 1, 1] as [number, number, number, number] }] };

  it("leaves pixels alone and scales relative fractions to the image", () => {
    expect(toPixelPrompt(prompt, 640, 480, "pixels")).toBe(prompt);
    expect(toPixelPrompt(prompt, 640, 480, "relative")).toEqual({ text: "dog", points: [{ x: 320, y: 120, positive: false }], boxes: [{ box: [0, 240, 640, 480] }] });
    expect(toPixelPrompt<ImagePrompt>({ text: "dog" }, 640, 480, "relative")).toEqual({ text: "dog" });
  });

  it("refuses relative values outside 0..1, pointing at pixels", () => {
    const e = thrown(() => toPixelPrompt({ points: [{ x: 80, y: 60 }] }, 640, 480, "relative"));
    expect(e.code).toBe("BAD_PROMPT");
    expect(e.message).toBe('relative coordinates must be within 0..1, got (80, 60): outside the 640x480 image; pass coordinates "pixels" for pixels');
    expect(thrown(() => toPixelPrompt({ boxes: [{ box: [0, 0, 1.5, 1] }] }, 640, 480, "relative")).message).toMatch(/got \(0, 0, 1.5, 1\)/);
    expect(thrown(() => toPixelPrompt({}, 640, 480, "percent" as "pixels")).code).toBe("BAD_OPTION");
  });
});
