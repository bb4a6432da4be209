import * as ort from "onnxruntime-node";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../core/image/decode";
import { toPixelTensor } from "../../core/image/preprocess";
import { openPack } from "../../core/pack/open";
import type { Role } from "../../core/pack/roles";
import { Engine, type Tensors } from "../../core/runtime/engine";
import { maxAbsDiff, PACKS, REPO, sampled, SCENE } from "../support/reference";
import { readFileSync } from "node:fs";

const ONNX_TOLERANCE = 1e-4;
// The folder holding the packs: SAM3_TEST_PACK_DIR (e.g. a freshly exported set), else models/.
const PACKS_DIR = process.env.SAM3_TEST_PACK_DIR ?? join(REPO, "models");

interface Stats {
  shape: number[];
  mean: number;
  std: number;
  sample_index: number[];
  sample: number[];
}

/** The tensor equals the reference summary: shape, the sampled values, mean and std, within the tolerance. */
function expectStats(t: ort.Tensor, want: Stats, tolerance = ONNX_TOLERANCE) {
  const data = t.data as Float32Array;
  expect(Array.from(t.dims)).toEqual(want.shape);
  expect(maxAbsDiff(sampled(data, want.sample_index), want.sample)).toBeLessThan(tolerance);
  let sum = 0;
  for (const v of data) sum += v;
  const mean = sum / data.length;
  let sq = 0;
  for (const v of data) sq += (v - mean) ** 2;
  expect(Math.abs(mean - want.mean)).toBeLessThan(tolerance);
  expect(Math.abs(Math.sqrt(sq / data.length) - want.std)).toBeLessThan(tolerance);
}

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [values.length]);

/** Candidate k of a [1, 1, K, h, w] mask tensor as a plain h x w array. */
function candidate(masks: ort.Tensor, k: number): Float32Array {
  const [h, w] = masks.dims.slice(3);
  return (masks.data as Float32Array).slice(k * h * w, (k + 1) * h * w);
}

/** torch's bilinear upsampling (align_corners=False) of an n x n map to size x size. */
function upsampleBilinear(src: Float32Array, n: number, size: number): Float32Array {
  const taps = Array.from({ length: size }, (_, i) => {
    const x = Math.max(((i + 0.5) * n) / size - 0.5, 0);
    const i0 = Math.floor(x);
    const i1 = Math.min(i0 + 1, n - 1);
    return { i0, i1, l1: x - i0 };
  });
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const ty = taps[y];
    for (let x = 0; x < size; x++) {
      const tx = taps[x];
      const top = src[ty.i0 * n + tx.i0] * (1 - tx.l1) + src[ty.i0 * n + tx.i1] * tx.l1;
      const bottom = src[ty.i1 * n + tx.i0] * (1 - tx.l1) + src[ty.i1 * n + tx.i1] * tx.l1;
      out[y * size + x] = top * (1 - ty.l1) + bottom * ty.l1;
    }
  }
  return out;
}

const concat = (parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
};

describe.each(PACKS)("video graphs match the reference implementation: %s", (name) => {
  const ref = JSON.parse(readFileSync(join(REPO, "test", "reference", name, "reference_video.json"), "utf8"));
  const pack = openPack(join(PACKS_DIR, name));
  const engine = new Engine(pack);
  const run = (role: string, feeds: Tensors) => engine.run(role as Role, feeds);
  const S: number = ref.image_size;
  const decoderInputs = ref.video_tracker_decoder.inputs;
  const points = f32(Float32Array.from(decoderInputs.input_points.flat(3)), [1, 1, decoderInputs.input_labels[0][0].length, 2]);
  const labels = new ort.Tensor("int64", BigInt64Array.from(decoderInputs.input_labels.flat(2), BigInt), [1, 1, decoderInputs.input_labels[0][0].length]);
  const best: number = ref.video_tracker_decoder.best_candidate;
  let backbone: Tensors;
  let decoder: Tensors;
  let memories: Record<string, Tensors>;

  beforeAll(async () => {
    const pixels = toPixelTensor(await decodeImage(SCENE), S, pack.manifest.normalize);
    expect(maxAbsDiff(sampled(pixels.data as Float32Array, ref.pixel_values.sample_index), ref.pixel_values.sample)).toBeLessThan(1e-6);
    backbone = await run("backbone", { pixels });
    decoder = await run("videoTrackerDecoder", { emb0: backbone.emb0, emb1: backbone.emb1, emb2: backbone.emb2, points, labels });
  });
  afterAll(() => engine.close());

  it("backbone: the detector's FPN features and the tracker's embeddings from one ViT pass", () => {
    const names: Record<string, string> = pack.manifest.roles["backbone" as Role]!.outputs;
    expect(Object.keys(names).length).toBeGreaterThanOrEqual(9);
    for (const [key, onnxName] of Object.entries(names)) expectStats(backbone[key], ref.backbone.outputs[onnxName]);
  });

  it("video tracker decoder: all 4 mask tokens, IoU, object score and object pointers", () => {
    const want = ref.video_tracker_decoder.outputs;
    expect(maxAbsDiff(decoder.iouScores.data as Float32Array, want.iou_scores.flat(2))).toBeLessThan(ONNX_TOLERANCE);
    expect(Math.abs((decoder.objectScore.data as Float32Array)[0] - want.object_score_logits[0][0][0])).toBeLessThan(ONNX_TOLERANCE);
    expectStats(decoder.objectPointers, want.object_pointers);
    expectStats(decoder.masks, want.pred_masks);
    const ious = Array.from(decoder.iouScores.data as Float32Array).slice(1);
    expect(1 + ious.indexOf(Math.max(...ious))).toBe(best);
  });

  it("video tracker decoder with the chosen mask as a mask prompt", async () => {
    const g4 = decoder.masks.dims[3];
    const seen = (decoder.objectScore.data as Float32Array)[0] > 0;
    const maskInput = f32(seen ? candidate(decoder.masks, best) : new Float32Array(g4 * g4).fill(-1024), [1, 1, g4, g4]);
    const out = await run("videoTrackerDecoderMask", { emb0: backbone.emb0, emb1: backbone.emb1, emb2: backbone.emb2, points, labels, maskInput });
    const want = ref.video_tracker_decoder_mask.outputs;
    expect(maxAbsDiff(out.iouScores.data as Float32Array, want.iou_scores.flat(2))).toBeLessThan(ONNX_TOLERANCE);
    expectStats(out.objectPointers, want.object_pointers);
    expectStats(out.masks, want.pred_masks);
  });

  it("memory encoder: a mask prompt (binarised, and through the sigmoid), and the decoder's chosen mask", async () => {
    const g4 = decoder.masks.dims[3];
    const score = (decoder.objectScore.data as Float32Array)[0];
    const chosen = score > 0 ? upsampleBilinear(candidate(decoder.masks, best), g4, S) : new Float32Array(S * S).fill(-1024);
    const prompt = new Float32Array(S * S).fill(-10);
    const [lo, hi] = [Math.floor(S / 4), Math.floor(S / 2)];
    for (let y = lo; y < hi; y++) prompt.fill(10, y * S + lo, y * S + hi);
    const cases = {
      prompted: { highResMasks: prompt, objectScore: 10, fromPrompt: 1 },
      tracked: { highResMasks: prompt, objectScore: 10, fromPrompt: 0 },
      decoder: { highResMasks: chosen, objectScore: score, fromPrompt: 0 },
    };
    memories = {};
    for (const [key, c] of Object.entries(cases)) {
      memories[key] = await run("memoryEncoder", {
        trackerFeat2: backbone.trackerFeat2,
        highResMasks: f32(c.highResMasks, [1, 1, S, S]),
        objectScore: f32(Float32Array.of(c.objectScore), [1, 1, 1]),
        maskFromPrompt: new ort.Tensor("bool", Uint8Array.of(c.fromPrompt), [1]),
      });
      // the tiny model's mask logits are ~1e-3: the sigmoid of the decoder's mask is ~0.5 everywhere, and the
      // memory encoder's normalisation magnifies float noise there (onnxruntime alone is ~1e-4 from PyTorch)
      const tolerance = key === "decoder" ? 1e-3 : ONNX_TOLERANCE;
      expectStats(memories[key].memoryFeatures, ref.memory_encoder.outputs[key].maskmem_features, tolerance);
      expectStats(memories[key].memoryPosEnc, ref.memory_encoder.outputs[key].maskmem_pos_enc);
    }
  });

  it("memory attention over 2 memory frames and 3 object pointers", async () => {
    const inputs = ref.memory_attention.inputs;
    const bank = inputs.memory_cases.map((key: string) => memories[key]);
    const [, channels, g] = bank[0].memoryFeatures.dims;
    const hidden = decoder.objectPointers.dims[3];
    const pointers = concat(inputs.object_pointer_tokens.map((k: number) => (decoder.objectPointers.data as Float32Array).slice(k * hidden, (k + 1) * hidden)));
    const out = await run("memoryAttention", {
      trackerFeat2: backbone.trackerFeat2,
      trackerPos2: backbone.trackerPos2,
      memoryFeatures: f32(concat(bank.map((m: Tensors) => m.memoryFeatures.data as Float32Array)), [bank.length, channels, g, g]),
      memoryPosEnc: f32(concat(bank.map((m: Tensors) => m.memoryPosEnc.data as Float32Array)), [bank.length, channels, g, g]),
      memoryOffsets: i64(inputs.memory_offsets),
      objectPointers: f32(pointers, [inputs.object_pointer_tokens.length, hidden]),
      pointerOffsets: i64(inputs.object_pointer_offsets),
      pointerMaxOffset: f32(Float32Array.of(inputs.object_pointer_max_offset), [1]),
    });
    expectStats(out.emb2, ref.memory_attention.outputs.image_embeddings_2);
  });
});
