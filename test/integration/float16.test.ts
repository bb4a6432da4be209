import { copyFileSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPack } from "../../core/pack/open";
import { Engine, type Tensors } from "../../core/runtime/engine";
import { fromFloat16Bits, toFloat16Bits } from "../../core/runtime/float16";
import { Sam3 } from "../../core/sam3";
import { seededRandom } from "../support/masks";
import { maxAbsDiff, REPO, SCENE } from "../support/reference";

const PACK = join(REPO, "models", "sam3-tiny-336");
const scratch = mkdtempSync(join(tmpdir(), "sam3-fp16-"));
const FP16 = join(scratch, "sam3-tiny-336-fp16");

beforeAll(() => {
  // the committed float16 graphs and their manifest beside the bundled pack's tokenizer
  cpSync(join(REPO, "test", "fixtures", "sam3-tiny-336-fp16"), FP16, { recursive: true });
  copyFileSync(join(PACK, "tokenizer.json"), join(FP16, "tokenizer.json"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("float16 bits", () => {
  it("round-trips exact halves and rounds to nearest even", () => {
    const exact = [0, -0, 1, -2, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, 3 * 2 ** -24, Infinity, -Infinity];
    expect([...fromFloat16Bits(toFloat16Bits(exact))]).toEqual(exact);
    expect([...toFloat16Bits([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, 2 ** -26, NaN])]).toEqual([0x3c00, 0x3c02, 0x7c00, 0, 0x7e00]);
  });
});

const iou = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) both++;
    if (a[i] || b[i]) either++;
  }
  return either ? both / either : 1;
};

/** Largest output magnitude, so a difference reads against the scale of the features. */
const peak = (data: Float32Array) => maxAbsDiff(data, new Float32Array(data.length));

describe("a float16 pack", () => {
  it("declares float16 inputs and outputs; the engine casts float32 in and gives float32 out", async () => {
    const graph = await ort.InferenceSession.create(join(FP16, "onnx", "vision_encoder.onnx"));
    expect([...graph.inputMetadata, ...graph.outputMetadata].map((m) => (m.isTensor ? m.type : ""))).toEqual(Array(9).fill("float16"));
    await graph.release();
    const [e32, e16] = [new Engine(openPack(PACK)), new Engine(openPack(FP16))];
    try {
      const random = seededRandom(7);
      const pixels = new ort.Tensor("float32", Float32Array.from({ length: 3 * 336 * 336 }, () => random() * 2 - 1), [1, 3, 336, 336]);
      const ids = new ort.Tensor("int64", BigInt64Array.from({ length: 32 }, (_, i) => BigInt(i < 5 ? 100 + i : 0)), [1, 32]);
      const mask = new ort.Tensor("int64", BigInt64Array.from({ length: 32 }, (_, i) => BigInt(i < 5 ? 1 : 0)), [1, 32]);
      const stages: [Parameters<Engine["run"]>[0], Tensors][] = [
        ["visionEncoder", { pixels }],
        ["trackerVisionEncoder", { pixels }],
        ["backbone", { pixels }],
        ["textEncoder", { inputIds: ids, attentionMask: mask }],
      ];
      for (const [role, feeds] of stages) {
        const [a, b] = [await e32.run(role, feeds), await e16.run(role, feeds)];
        for (const key of Object.keys(a)) {
          expect(b[key].type).toBe("float32");
          expect(b[key].dims).toEqual(a[key].dims);
          const diff = maxAbsDiff(a[key].data as Float32Array, b[key].data as Float32Array);
          const scale = peak(a[key].data as Float32Array);
          console.log(`fp16 ${role}.${key}: max abs diff ${diff.toExponential(2)} (peak |fp32| ${scale.toFixed(3)})`);
          expect(diff).toBeLessThan(0.01 * Math.max(scale, 0.1));
        }
      }
    } finally {
      await Promise.all([e32.close(), e16.close()]);
    }
  });

  it("runs every head (text, text with a box, click, box, click with a previous mask) with masks close to float32", async () => {
    const click = [{ x: 160, y: 170 }, { x: 460, y: 160, positive: false }];
    const prompts: [string, Parameters<Sam3["segment"]>[1]][] = [
      ["text", { text: "red circle" }],
      ["text + box", { text: "red circle", boxes: [{ box: [80, 90, 240, 250] }] }],
      ["click", { points: click }],
      ["box", { boxes: [{ box: [80, 90, 240, 250] }] }],
    ];
    const [s32, s16] = [await Sam3.open({ model: PACK }), await Sam3.open({ model: FP16 })];
    try {
      // the refining decoder takes the float32 run's low-res logits on both sides
      prompts.push(["click + previous mask", { points: click, maskInput: (await s32.segment(SCENE, { points: click })).lowResMask }]);
      for (const [what, prompt] of prompts) {
        const options = { threshold: 0, minRegionArea: 0, maxObjects: 1 };
        const [a, b] = [await s32.segment(SCENE, prompt, options), await s16.segment(SCENE, prompt, options)];
        expect(b.path).toBe(a.path);
        expect(b.objects).toHaveLength(1);
        const overlap = iou(a.objects[0].mask.data, b.objects[0].mask.data);
        const scoreDiff = Math.abs(a.objects[0].score - b.objects[0].score);
        console.log(`fp16 ${what}: top mask IoU ${overlap.toFixed(4)} against float32, score diff ${scoreDiff.toExponential(2)}`);
        expect(overlap).toBeGreaterThan(0.9);
      }
    } finally {
      await Promise.all([s32.close(), s16.close()]);
    }
  });
});
