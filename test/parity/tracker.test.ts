import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rleCountsToMask } from "../../core/masks/rle";
import { decodeImage, type RgbImage } from "../../core/image/decode";
import { toPixelTensor } from "../../core/image/preprocess";
import { maskArea, maskIoU } from "../../core/masks/mask";
import { openPack } from "../../core/pack/open";
import { Engine, type Tensors } from "../../core/runtime/engine";
import type { ImagePrompt } from "../../core/prompts";
import { Sam3, type SegmentOptions } from "../../core/sam3";
import { candidateLogits, candidateMask, pointPromptTensors, readTrackerOutput } from "../../core/tracker";
import { maxAbsDiff, PACKS, reference, sampled, SCENE } from "../support/reference";

const ONNX_TOLERANCE = 1e-4;
const BOX = { box: [80, 90, 240, 250] as [number, number, number, number] };

describe.each(PACKS)("tracker parity with the reference implementation: %s", (name) => {
  const ref = reference(name, "reference_tracker.json");
  const pack = openPack(name);
  const engine = new Engine(pack);
  const clicks = ref.points_original[0][0].map(([x, y]: number[], i: number) => ({ x, y, positive: ref.labels[0][0][i] === 1 }));
  let image: RgbImage;
  let embeddings: Tensors;
  let prompt: ReturnType<typeof pointPromptTensors>;

  beforeAll(async () => {
    image = await decodeImage(SCENE);
    const pixels = toPixelTensor(image, pack.manifest.imageSize, pack.manifest.normalize);
    embeddings = await engine.run("trackerVisionEncoder", { pixels });
    prompt = pointPromptTensors({ points: clicks, image, imageSize: pack.manifest.imageSize });
  });
  afterAll(() => engine.close());

  it("maps clicks into the model frame as the reference", () => {
    expect(maxAbsDiff(prompt.points.data as Float32Array, ref.input_points_model_frame.flat(3))).toBeLessThan(1e-4);
    expect(Array.from(prompt.labels.data as BigInt64Array, Number)).toEqual(ref.labels.flat(2));
  });

  it("image embeddings match", () => {
    ["emb0", "emb1", "emb2"].forEach((key, i) => {
      const want = ref.raw.embeddings[i];
      expect(embeddings[key].dims).toEqual(want.shape);
      expect(maxAbsDiff(sampled(embeddings[key].data as Float32Array, want.sample_index), want.sample)).toBeLessThan(ONNX_TOLERANCE);
    });
  });

  it("decoder outputs match: IoU estimates, object score, mask logits, candidate masks", async () => {
    const raw = readTrackerOutput(await engine.run("trackerDecoder", { ...embeddings, ...prompt }));
    expect(maxAbsDiff(raw.iouScores, ref.raw.iou_scores.flat(2))).toBeLessThan(ONNX_TOLERANCE);
    expect(Math.abs(raw.objectScoreLogit - ref.raw.object_score_logits[0][0][0])).toBeLessThan(ONNX_TOLERANCE);
    expect(maxAbsDiff(sampled(raw.masks, ref.raw.pred_masks.sample_index), ref.raw.pred_masks.sample)).toBeLessThan(ONNX_TOLERANCE);
    const masks = [0, 1, 2].map((i) => candidateMask(raw, i, image.width, image.height));
    masks.forEach((m, i) => expect(Math.abs(maskArea(m) - ref.post_masks.areas[i]) / ref.post_masks.areas[i]).toBeLessThan(0.02));
    const { size, counts } = ref.post_masks.mask0_rle;
    expect(maskIoU(masks[0], rleCountsToMask(counts, size[0], size[1]))).toBeGreaterThanOrEqual(0.98);
  });

  it("takes the previous low-res logits as a mask prompt", async () => {
    const first = readTrackerOutput(await engine.run("trackerDecoder", { ...embeddings, ...prompt }));
    const size = first.maskSize;
    const maskInput = new ort.Tensor("float32", candidateLogits(first, 0), [1, 1, size, size]);
    const out = await engine.run("trackerDecoderMask", { ...embeddings, ...prompt, maskInput });
    expect(out.masks.dims).toEqual([1, 1, 3, size, size]);
    expect(out.iouScores.dims).toEqual([1, 1, 3]);
  });

  describe("end to end from scene.png", () => {
    let sam: Sam3;
    beforeAll(async () => {
      sam = await Sam3.open({ model: name });
    });
    afterAll(() => sam.close());

    it("returns the best of three candidates by IoU estimate, with all three reported", async () => {
      const result = await sam.segment(SCENE, { points: clicks }, { minRegionArea: 0, multimask: true });
      const ious: number[] = ref.raw.iou_scores.flat(2);
      const best = ious.indexOf(Math.max(...ious));
      expect(result.candidates).toHaveLength(3);
      result.candidates!.forEach((c, i) => {
        expect(Math.abs(c.score - ious[i])).toBeLessThan(1e-4);
        expect(Math.abs(c.area - ref.post_masks.areas[i]) / ref.post_masks.areas[i]).toBeLessThan(0.02);
      });
      expect(result.objects).toHaveLength(1);
      expect(result.objects[0].score).toBeCloseTo(ious[best], 4);
      expect(result.objects[0].area).toBe(result.candidates![best].area);
      expect(result.lowResMask).toHaveLength(ref.raw.pred_masks.shape[3] ** 2);
    });

    /** The chosen token's low-res logits against HF's: sampled values, and the area above 0. */
    const matchesLogits = (lowRes: Float32Array, want: { sample_index: number[]; sample: number[] }, area: number) => {
      expect(maxAbsDiff(sampled(lowRes, want.sample_index), want.sample)).toBeLessThan(ONNX_TOLERANCE);
      expect(Math.abs(lowRes.filter((v) => v > 0).length - area) / area).toBeLessThan(0.02);
    };

    it("gives HF's single-mask output for two clicks and for a box, with its stability fallback", async () => {
      const cases: [ImagePrompt, any][] = [[{ points: clicks }, ref.single_mask.two_points], [{ boxes: [BOX] }, ref.single_mask.box]];
      for (const [prompt, want] of cases) {
        const result = await sam.segment(SCENE, prompt, { minRegionArea: 0 });
        expect(result.candidates).toBeUndefined();
        expect(result.objects[0].score).toBeCloseTo(want.iou_scores[0][0][0], 4);
        matchesLogits(result.lowResMask!, want.pred_masks, want.low_res_areas[0]);
      }
    });

    it("gives HF's three candidates for one click alone, and for a box when asked", async () => {
      const cases: [ImagePrompt, SegmentOptions, any][] = [
        [{ points: [clicks[0]] }, {}, ref.one_click_multimask],
        [{ boxes: [BOX] }, { multimask: true }, ref.box_only],
      ];
      for (const [prompt, options, want] of cases) {
        const result = await sam.segment(SCENE, prompt, { minRegionArea: 0, ...options });
        const ious: number[] = want.iou_scores.flat(2);
        expect(maxAbsDiff(Float32Array.from(result.candidates!.map((c) => c.score)), ious)).toBeLessThan(ONNX_TOLERANCE);
        expect(result.objects[0].score).toBeCloseTo(Math.max(...ious), 4);
      }
    });

    it("refines with its own low-res mask as a prompt", async () => {
      const first = await sam.segment(SCENE, { points: clicks });
      const refined = await sam.segment(SCENE, { points: clicks, maskInput: first.lowResMask });
      expect(refined.objects).toHaveLength(1);
      // clicks with a mask get the single-mask output unless all candidates are asked for
      expect(refined.candidates).toBeUndefined();
      const all = await sam.segment(SCENE, { points: clicks, maskInput: first.lowResMask }, { multimask: true });
      expect(all.candidates).toHaveLength(3);
    });

    it("takes a box, alone or with points", async () => {
      const box = BOX;
      const byBox = await sam.segment(SCENE, { boxes: [box] });
      const byBoth = await sam.segment(SCENE, { boxes: [box], points: [clicks[0]] });
      expect(byBox.path).toBe("tracker");
      expect(byBoth.candidates).toBeUndefined();
      expect(byBox.lowResMask).not.toEqual(byBoth.lowResMask);
    });
  });
});
