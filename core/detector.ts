import * as ort from "onnxruntime-node";
import { maskIoU, type Box, type Mask } from "./masks/mask";
import { maskLogits, resizeAndThreshold, sigmoid } from "./masks/resize";
import type { BoxPrompt } from "./prompts";

/** Box labels of the detector's geometry prompt. */
const POSITIVE = 1n;
const NEGATIVE = 0n;
const PAD = -10n;

/**
 * Exemplar boxes as the detector takes them: normalised cx, cy, w, h with labels. With no boxes, one padding box,
 * for exports whose only decoder takes boxes.
 */
export function boxPromptTensors(boxes: BoxPrompt[], width: number, height: number) {
  const n = Math.max(boxes.length, 1);
  const coords = new Float32Array(n * 4);
  const labels = new BigInt64Array(n).fill(PAD);
  boxes.forEach(({ box: [x1, y1, x2, y2], positive = true }, i) => {
    coords.set([(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height], i * 4);
    labels[i] = positive ? POSITIVE : NEGATIVE;
  });
  return { boxes: new ort.Tensor("float32", coords, [1, n, 4]), boxLabels: new ort.Tensor("int64", labels, [1, n]) };
}

/** The detector decoder's outputs for one image, batch dimension dropped. */
export interface DetectorOutput {
  /** [queries, maskSize, maskSize] mask logits. */
  masks: Float32Array;
  maskSize: number;
  /** [queries, 4] normalised x1, y1, x2, y2. */
  boxes: Float32Array;
  logits: Float32Array;
  presenceLogit: number;
}

export function readDetectorOutput(out: Record<string, ort.Tensor>): DetectorOutput {
  return {
    ...maskLogits(out.masks),
    boxes: out.boxes.data as Float32Array,
    logits: out.logits.data as Float32Array,
    presenceLogit: (out.presence.data as Float32Array)[0],
  };
}

export interface Detection {
  query: number;
  score: number;
  /** Pixels of the original image, clipped to it. */
  box: Box;
}

/**
 * The kept queries, best first: score = sigmoid(logit) * sigmoid(presence) above the threshold, then optionally
 * greedy mask-IoU suppression on the low-res masks (cheap: nothing is upsampled before it is kept).
 */
export function selectDetections(
  out: DetectorOutput,
  width: number,
  height: number,
  threshold: number,
  nmsIoU?: number,
): Detection[] {
  const presence = sigmoid(out.presenceLogit);
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const candidates: Detection[] = [];
  out.logits.forEach((logit, query) => {
    const score = sigmoid(logit) * presence;
    if (!(score > threshold)) return;
    const b = out.boxes.subarray(query * 4, query * 4 + 4);
    candidates.push({ query, score, box: [clip(b[0] * width, width), clip(b[1] * height, height), clip(b[2] * width, width), clip(b[3] * height, height)] });
  });
  candidates.sort((a, b) => b.score - a.score);
  if (nmsIoU === undefined) return candidates;
  const kept: { detection: Detection; mask: Mask }[] = [];
  for (const detection of candidates) {
    const mask = lowResMask(out, detection.query);
    if (kept.every((k) => maskIoU(k.mask, mask) <= nmsIoU)) kept.push({ detection, mask });
  }
  return kept.map((k) => k.detection);
}

function lowResMask(out: DetectorOutput, query: number): Mask {
  const plane = out.maskSize * out.maskSize;
  const logits = out.masks.subarray(query * plane, (query + 1) * plane);
  return { width: out.maskSize, height: out.maskSize, data: Uint8Array.from(logits, (v) => (v > 0 ? 1 : 0)) };
}

/** A kept query's mask at the image's size: sigmoid, bilinear resize, then the mask threshold. */
export function detectionMask(out: DetectorOutput, query: number, width: number, height: number, maskThreshold: number): Mask {
  const plane = out.maskSize * out.maskSize;
  const probabilities = Float32Array.from(out.masks.subarray(query * plane, (query + 1) * plane), sigmoid);
  return resizeAndThreshold(probabilities, out.maskSize, out.maskSize, width, height, maskThreshold);
}
