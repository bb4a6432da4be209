import * as ort from "onnxruntime-node";
import { Sam3Error } from "../errors";
import type { RgbImage } from "../image/decode";
import { resizeMap } from "../masks/resize";
import { readTrackerConstants, type TrackerConstants } from "../pack/tracker-constants";
import type { BoxPrompt, PointPrompt } from "../prompts";
import type { Tensors } from "../runtime/engine";
import type { Sam3 } from "../sam3";
import { bestCandidate, candidateLogits, pointPromptTensors, readTrackerOutput, singleMaskToken } from "../tracker";
import { DEFAULT_MEMORY, ObjectMemory, type MemorySelection, type MemorySettings } from "./memory-bank";

/** The mask logits of a frame where the object is not seen (the reference's NO_OBJ_SCORE). */
export const NO_OBJECT_LOGIT = -1024;
/** A mask prompt's logits: -10 outside, +10 inside (sigmoid(-10) ~ 4.5e-5). */
const PROMPT_SCALE = 20;
const PROMPT_BIAS = -10;

/** One object's result on one frame, before the frame's memory is written. */
export interface TrackStep {
  /** The chosen mask's low-res logits, maskSize x maskSize; NO_OBJECT_LOGIT everywhere when the object is not seen. */
  lowRes: Float32Array;
  maskSize: number;
  objectScoreLogit: number;
  /** The decoder's IoU estimate of the chosen mask (1 for a mask taken as given). */
  iouScore: number;
  pointer: Float32Array;
  /** The logits at the model's input size when they are not the low-res ones enlarged (a mask taken as given). */
  highRes?: Float32Array;
}

/** What the memory of one object on one frame is encoded from. */
export interface MemoryWrite {
  id: number;
  step: TrackStep;
  /** The mask to remember when it differs from the step's own (after the video rules), low-res logits. */
  lowRes?: Float32Array;
  objectScoreLogit?: number;
  /** A prompted, seeded or re-conditioned frame. */
  conditioning: boolean;
}

/** Where a frame sits in a propagation. */
export interface FramePosition {
  t: number;
  reverse: boolean;
  numFrames: number;
}

/** Hooks for parity tests: the memory attention inputs and output, and the encoded memories (before their bfloat16 rounding). */
export interface MemoryInspector {
  /** The level-2 embedding the decoder reads, and the memory it attended to (none on a frame without memory). */
  embedding?(id: number, t: number, emb2: ort.Tensor, selection?: MemorySelection): void;
  memory?(id: number, t: number, features: Float32Array): void;
}

type Features = Tensors;

export interface MemoryTrackerOptions {
  /** One memory-encoder run for all objects of a frame (default), or one per object. */
  batchMemory?: boolean;
  /**
   * Keep the memory of every tracked frame, as the reference does, instead of only those a later frame of the pass
   * or a conditioning frame's neighbourhood can read: memory then grows with the video.
   */
  keepAllFrames?: boolean;
  inspect?: MemoryInspector;
}

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [values.length]);

/**
 * SAM 3's video tracker on a pack's memory graphs: each object has a memory bank; a frame's level-2 features
 * attend to it (memory attention), the video tracker decoder reads the result, and each output mask is encoded
 * into the bank (memory encoder), as HF `Sam3TrackerVideoModel` does. The banks belong to one video session.
 */
export class MemoryTracker {
  private readonly banks = new Map<number, ObjectMemory>();
  /** The frames each object was tracked on (not prompted): a click there corrects it with its memory. */
  private readonly trackedOn = new Map<number, Set<number>>();
  private readonly constants: TrackerConstants;
  private readonly settings: MemorySettings;
  private readonly multimaskMaxPoints: number;
  /** The memory encoder's position encoding: the same for every mask, kept once. */
  private memoryPos?: Float32Array;

  constructor(
    private readonly sam: Sam3,
    private readonly options: MemoryTrackerOptions = {},
  ) {
    this.constants = readTrackerConstants(sam.pack);
    const c = this.constants.config;
    const num = (key: string, fallback: number) => (typeof c[key] === "number" ? (c[key] as number) : fallback);
    this.settings = {
      numMaskmem: num("num_maskmem", DEFAULT_MEMORY.numMaskmem),
      maxCondFrames: num("max_cond_frame_num", DEFAULT_MEMORY.maxCondFrames),
      maxPointers: num("max_object_pointers_in_encoder", DEFAULT_MEMORY.maxPointers),
    };
    this.multimaskMaxPoints = c.multimask_output_in_sam === false ? -1 : num("multimask_max_pt_num", 1);
  }

  features(frame: RgbImage): Promise<Features> {
    return this.sam.frameFeatures(frame);
  }

  forget(id: number): void {
    this.banks.delete(id);
    this.trackedOn.delete(id);
  }

  reset(): void {
    this.banks.clear();
    this.trackedOn.clear();
  }

  /** Bytes held by the banks (features and pointers). */
  bytes(): number {
    let n = this.memoryPos?.byteLength ?? 0;
    for (const bank of this.banks.values()) {
      for (const e of [...bank.conditioning.values(), ...bank.tracked.values()]) n += e.features.byteLength + e.pointer.byteLength;
    }
    return n;
  }

  /**
   * Clicks and/or a box on one object. On a frame it was tracked on they correct it: the frame attends to its
   * memory; elsewhere they start a conditioning frame without memory.
   */
  async prompt(f: Features, at: FramePosition, id: number, clicks: { points: PointPrompt[]; box?: BoxPrompt }, image: { width: number; height: number }): Promise<TrackStep> {
    const emb2 = this.trackedOn.get(id)?.has(at.t) ? await this.conditioned(f, id, at) : this.unconditioned(f, id, at);
    const tensors = pointPromptTensors({ points: clicks.points, box: clicks.box, image, imageSize: this.sam.pack.manifest.imageSize });
    return this.decode(f, emb2, tensors, clicks.points.length + (clicks.box ? 2 : 0));
  }

  /** The object carried onto a frame with no prompt, from its memory. */
  async track(f: Features, at: FramePosition, id: number): Promise<TrackStep> {
    if (!this.banks.get(id)?.conditioning.size) throw new Sam3Error("BAD_REQUEST", `object ${id} has no prompted frame to track from`);
    const emb2 = await this.conditioned(f, id, at);
    let frames = this.trackedOn.get(id);
    if (!frames) this.trackedOn.set(id, (frames = new Set()));
    frames.add(at.t);
    return this.decode(f, emb2, noPrompt(), 0);
  }

  /** A mask taken as the object's output on its frame (a new object from a detection): HF `_use_mask_as_output`. */
  async fromMask(f: Features, mask: Uint8Array, size: number): Promise<TrackStep> {
    const S = this.sam.pack.manifest.imageSize;
    const atInput = resizeMap(Float32Array.from(mask), size, size, S, S);
    const highRes = Float32Array.from(atInput, (v) => v * PROMPT_SCALE + PROMPT_BIAS);
    const maskSize = (f.emb0.dims[2] as number);
    const lowRes = resizeMap(highRes, S, S, maskSize, maskSize);
    const down = this.maskDownsample(atInput, S);
    const maskInput = resizeMap(down.data, down.size, down.size, maskSize, maskSize);
    const decoded = await this.decode(f, f.trackerFeat2, noPrompt(), 0, maskInput);
    const seen = mask.some((v) => v > 0);
    const noPointer = this.constant("noObjPtr");
    return {
      lowRes,
      maskSize,
      highRes,
      objectScoreLogit: seen ? PROMPT_SCALE + PROMPT_BIAS : PROMPT_BIAS,
      iouScore: 1,
      pointer: seen ? decoded.pointer : noPointer,
    };
  }

  /**
   * Encodes the frame's memories (one batch for all objects where `batchMemory` is on) and stores them with the
   * pointers. `fromPrompt`: the masks came from clicks or a given mask, so they are binarised, not squashed.
   */
  async remember(f: Features, at: FramePosition, writes: MemoryWrite[], fromPrompt: boolean): Promise<void> {
    if (!writes.length) return;
    const S = this.sam.pack.manifest.imageSize;
    const highRes = writes.map((w) => (w.lowRes === undefined && w.step.highRes) || resizeMap(w.lowRes ?? w.step.lowRes, w.step.maskSize, w.step.maskSize, S, S));
    const scores = writes.map((w) => w.objectScoreLogit ?? w.step.objectScoreLogit);
    const batches = this.options.batchMemory === false ? writes.map((_, i) => [i]) : [writes.map((_, i) => i)];
    for (const batch of batches) {
      const out = await this.sam.runGraph("memoryEncoder", {
        trackerFeat2: f.trackerFeat2,
        highResMasks: f32(concat(batch.map((i) => highRes[i])), [batch.length, 1, S, S]),
        objectScore: f32(Float32Array.from(batch, (i) => scores[i]), [batch.length, 1, 1]),
        maskFromPrompt: new ort.Tensor("bool", Uint8Array.of(fromPrompt ? 1 : 0), [1]),
      });
      const features = out.memoryFeatures.data as Float32Array;
      const per = features.length / batch.length;
      this.memoryPos ??= (out.memoryPosEnc.data as Float32Array).slice(0, per);
      batch.forEach((i, k) => {
        const w = writes[i];
        const encoded = features.slice(k * per, (k + 1) * per);
        this.options.inspect?.memory?.(w.id, at.t, encoded);
        // the reference stores memories in bfloat16 and attends to them so
        const entry = { features: roundToBfloat16(encoded.slice()), pointer: w.step.pointer };
        let bank = this.banks.get(w.id);
        if (!bank) this.banks.set(w.id, (bank = new ObjectMemory(this.settings)));
        if (w.conditioning) bank.setConditioning(at.t, entry);
        else bank.setTracked(at.t, entry);
      });
    }
    if (!this.options.keepAllFrames) for (const w of writes) this.banks.get(w.id)!.prune(at.t, at.reverse);
  }

  /** A tracked frame becomes a conditioning frame of the object (re-conditioning). */
  promote(id: number, t: number): void {
    this.banks.get(id)?.promote(t);
  }

  /** A frame without memory: the backbone's level-2 embedding, with the no-memory embedding added. */
  private unconditioned(f: Features, id: number, at: FramePosition): ort.Tensor {
    this.options.inspect?.embedding?.(id, at.t, f.emb2);
    return f.emb2;
  }

  /** Memory attention: the frame's level-2 features conditioned on the object's bank. */
  private async conditioned(f: Features, id: number, at: FramePosition): Promise<ort.Tensor> {
    const bank = this.banks.get(id)!;
    const selection = bank.select(at.t, at.reverse, at.numFrames);
    const { memories, pointers } = selection;
    const [C, g] = [f.trackerFeat2.dims[1] as number, f.trackerFeat2.dims[2] as number];
    const per = this.memoryPos!.length;
    const out = await this.sam.runGraph("memoryAttention", {
      trackerFeat2: f.trackerFeat2,
      trackerPos2: f.trackerPos2,
      memoryFeatures: f32(concat(memories.map((m) => m.entry.features)), [memories.length, per / (g * g), g, g]),
      memoryPosEnc: f32(concat(memories.map(() => this.memoryPos!)), [memories.length, per / (g * g), g, g]),
      memoryOffsets: i64(memories.map((m) => m.offset)),
      objectPointers: f32(concat(pointers.map((p) => p.pointer)), [pointers.length, C]),
      pointerOffsets: i64(pointers.map((p) => p.offset)),
      pointerMaxOffset: f32(Float32Array.of(selection.maxPointerOffset), [1]),
    });
    this.options.inspect?.embedding?.(id, at.t, out.emb2, selection);
    return out.emb2;
  }

  /** The video tracker decoder and SAM's choice of mask token: the best of 3 for at most one click, else the single-mask output. */
  private async decode(f: Features, emb2: ort.Tensor, prompt: Tensors, promptPoints: number, maskInput?: Float32Array): Promise<TrackStep> {
    const feeds: Tensors = { emb0: f.emb0, emb1: f.emb1, emb2, ...prompt };
    const maskSize = f.emb0.dims[2] as number;
    if (maskInput) feeds.maskInput = f32(maskInput, [1, 1, maskSize, maskSize]);
    const out = await this.sam.runGraph(maskInput ? "videoTrackerDecoderMask" : "videoTrackerDecoder", feeds);
    const raw = readTrackerOutput(out);
    const multimask = promptPoints <= this.multimaskMaxPoints;
    const token = multimask ? bestCandidate(raw.iouScores, 1) : singleMaskToken(raw);
    const pointers = out.objectPointers.data as Float32Array;
    const C = pointers.length / raw.iouScores.length;
    // the single-mask output keeps token 0's pointer even when its mask falls back to a candidate
    const pointerToken = multimask ? token : 0;
    const seen = raw.objectScoreLogit > 0;
    return {
      lowRes: seen ? candidateLogits(raw, token) : new Float32Array(raw.maskSize * raw.maskSize).fill(NO_OBJECT_LOGIT),
      maskSize: raw.maskSize,
      objectScoreLogit: raw.objectScoreLogit,
      iouScore: raw.iouScores[token],
      pointer: pointers.slice(pointerToken * C, (pointerToken + 1) * C),
    };
  }

  /** The tracker's 4x4 stride-4 mask convolution (trackerConstants maskDownsample), applied to an S x S mask. */
  private maskDownsample(mask: Float32Array, S: number): { data: Float32Array; size: number } {
    const weight = this.constant("maskDownsampleWeight");
    const bias = this.constant("maskDownsampleBias")[0];
    const size = Math.floor(S / 4);
    const data = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let v = bias;
        for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) v += weight[dy * 4 + dx] * mask[(4 * y + dy) * S + 4 * x + dx];
        data[y * size + x] = v;
      }
    }
    return { data, size };
  }

  private constant(name: "noObjPtr" | "maskDownsampleWeight" | "maskDownsampleBias"): Float32Array {
    const t = this.constants.tensors[name];
    if (!t) throw new Sam3Error("PACK_INVALID", `model pack ${this.sam.pack.manifest.name}: trackerConstants has no ${name}`);
    return t.data;
  }
}

/** No clicks: one not-a-point, as the reference pads an empty prompt. */
function noPrompt(): Tensors {
  return {
    points: f32(new Float32Array(2), [1, 1, 1, 2]),
    labels: new ort.Tensor("int64", BigInt64Array.of(-1n), [1, 1, 1]),
  };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** float32 values rounded to the nearest bfloat16 (ties to even), still stored as float32. */
export function roundToBfloat16(values: Float32Array): Float32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000) continue;
    bits[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 0) & 0xffff0000;
  }
  return values;
}
