import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boxPromptTensors, readDetectorOutput } from "../../core/detector";
import { rleCountsToMask } from "../../core/masks/rle";
import { decodeImage, type RgbImage } from "../../core/image/decode";
import { toPixelTensor } from "../../core/image/preprocess";
import { maskIoU } from "../../core/masks/mask";
import { openPack } from "../../core/pack/open";
import { Engine, type Tensors } from "../../core/runtime/engine";
import { Sam3 } from "../../core/sam3";
import { TextTokenizer } from "../../core/text/tokenizer";
import { maxAbsDiff, PACKS, reference, sampled, SCENE } from "../support/reference";
import { join } from "node:path";

const ONNX_TOLERANCE = 1e-4;

describe.each(PACKS)("detector parity with the reference implementation: %s", (name) => {
  const ref = reference(name, "reference_detector.json");
  const pack = openPack(name);
  const engine = new Engine(pack);
  let image: RgbImage;
  let pixels: ort.Tensor;
  let vision: Tensors;
  let textFeatures: ort.Tensor;
  let textMask: ort.Tensor;

  beforeAll(async () => {
    image = await decodeImage(SCENE);
    pixels = toPixelTensor(image, pack.manifest.imageSize, pack.manifest.normalize);
    vision = await engine.run("visionEncoder", { pixels });
    const tokens = new TextTokenizer(join(pack.dir, pack.manifest.tokenizer.file), 32).encode("red circle");
    const inputIds = new ort.Tensor("int64", tokens.inputIds, [1, 32]);
    textMask = new ort.Tensor("int64", tokens.attentionMask, [1, 32]);
    textFeatures = (await engine.run("textEncoder", { inputIds, attentionMask: textMask })).textFeatures;
  });
  afterAll(() => engine.close());

  it("preprocesses scene.png to the reference pixel values", () => {
    const data = pixels.data as Float32Array;
    expect(pixels.dims).toEqual(ref.pixel_values.shape);
    expect(maxAbsDiff(sampled(data, ref.pixel_values.sample_index), ref.pixel_values.sample)).toBeLessThan(1e-6);
    const mean = data.reduce((s, v) => s + v, 0) / data.length;
    const std = Math.sqrt(data.reduce((s, v) => s + (v - mean) ** 2, 0) / data.length);
    // exact to float rounding: the resize reproduces torch's uint8 arithmetic
    expect(Math.abs(mean - ref.pixel_values.mean)).toBeLessThan(1e-6);
    expect(Math.abs(std - ref.pixel_values.std)).toBeLessThan(1e-6);
    expect([image.height, image.width]).toEqual(ref.original_sizes[0]);
  });

  it("tokenises the prompt as the reference", () => {
    expect(Array.from(textMask.data as BigInt64Array, Number)).toEqual(ref.attention_mask[0]);
  });

  it("vision encoder features match", () => {
    // reference order: fpn_feat_0..3 then fpn_pos_0..3
    const pairs = [["feat0", 0], ["feat1", 1], ["feat2", 2], ["pos2", 6]] as const;
    for (const [key, index] of pairs) {
      const want = ref.raw.fpn[index];
      expect(vision[key].dims).toEqual(want.shape);
      expect(maxAbsDiff(sampled(vision[key].data as Float32Array, want.sample_index), want.sample)).toBeLessThan(ONNX_TOLERANCE);
    }
  });

  it("text features match", () => {
    const want = ref.raw.text_features;
    expect(textFeatures.dims).toEqual(want.shape);
    expect(maxAbsDiff(sampled(textFeatures.data as Float32Array, want.sample_index), want.sample)).toBeLessThan(ONNX_TOLERANCE);
  });

  it("decoder outputs for a text prompt match", async () => {
    const out = await engine.run("detectorDecoder", { ...vision, textFeatures, textMask });
    const raw = readDetectorOutput(out);
    expect(out.masks.dims).toEqual(ref.raw.pred_masks.shape);
    expect(maxAbsDiff(sampled(raw.logits, ref.raw.pred_logits.sample_index), ref.raw.pred_logits.sample)).toBeLessThan(ONNX_TOLERANCE);
    expect(Math.abs(raw.presenceLogit - ref.raw.presence_logits[0][0])).toBeLessThan(ONNX_TOLERANCE);
    expect(maxAbsDiff(raw.boxes.subarray(0, 20), ref.raw.pred_boxes_first5.flat())).toBeLessThan(ONNX_TOLERANCE);
    expect(maxAbsDiff(sampled(raw.masks, ref.raw.pred_masks.sample_index), ref.raw.pred_masks.sample)).toBeLessThan(ONNX_TOLERANCE);
  });

  it("decoder outputs for a text + exemplar box prompt match", async () => {
    const [cx, cy, w, h] = ref.box_prompt.input_boxes_cxcywh_norm[0][0];
    const box: [number, number, number, number] = [(cx - w / 2) * 640, (cy - h / 2) * 480, (cx + w / 2) * 640, (cy + h / 2) * 480];
    const prompt = boxPromptTensors([{ box }], 640, 480);
    expect(maxAbsDiff(prompt.boxes.data as Float32Array, [cx, cy, w, h])).toBeLessThan(1e-6);
    const raw = readDetectorOutput(await engine.run("detectorDecoderBoxes", { ...vision, textFeatures, textMask, ...prompt }));
    const want = ref.box_prompt;
    expect(maxAbsDiff(sampled(raw.logits, want.pred_logits.sample_index), want.pred_logits.sample)).toBeLessThan(ONNX_TOLERANCE);
    expect(maxAbsDiff(raw.boxes.subarray(0, 20), want.pred_boxes_first5.flat())).toBeLessThan(ONNX_TOLERANCE);
  });

  describe("end to end from scene.png", () => {
    let sam: Sam3;
    beforeAll(async () => {
      sam = await Sam3.open({ model: name });
    });
    afterAll(() => sam.close());

    it("reproduces the post-processed detections (threshold 0): scores, boxes, masks", async () => {
      // the reference is the processor's raw post-processing: no speck / hole clean-up
      const result = await sam.segment(SCENE, { text: "red circle" }, { threshold: 0, minRegionArea: 0 });
      const want = ref["post_threshold_0.0"];
      expect(result.objects).toHaveLength(want.count);
      want.top.forEach((w: { score: number; box_xyxy: number[]; mask_area: number; mask_rle: { counts: number[] } | null }, i: number) => {
        const got = result.objects[i];
        expect(Math.abs(got.score - w.score)).toBeLessThan(1e-3);
        expect(maxAbsDiff(got.box, w.box_xyxy)).toBeLessThan(1);
        expect(Math.abs(got.area - w.mask_area) / w.mask_area).toBeLessThan(0.02);
        if (w.mask_rle) expect(maskIoU(got.mask, rleCountsToMask(w.mask_rle.counts, 480, 640))).toBeGreaterThanOrEqual(0.98);
      });
    });

    it("keeps nothing at the reference's 0.3 threshold, like the reference", async () => {
      const result = await sam.segment(SCENE, { text: "red circle" }, { threshold: 0.3 });
      expect(result.objects).toHaveLength(ref["post_threshold_0.3"].count);
    });
  });
});
