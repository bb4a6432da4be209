import * as ort from "onnxruntime-node";
import type { Mask } from "./masks/mask";
import { maskLogits, resizeAndThreshold } from "./masks/resize";
import type { BoxPrompt, PointPrompt } from "./prompts";

/** Point labels of the tracker's prompt encoder. */
const LABEL = { negative: 0n, positive: 1n, boxTopLeft: 2n, boxBottomRight: 3n } as const;

export interface TrackerPromptInput {
  points: PointPrompt[];
  box?: BoxPrompt;
  /** The image the points and box are on, in its own pixels. */
  image: { width: number; height: number };
  /** The model's square input side S. */
  imageSize: number;
  /** The export has a box input of its own. */
  boxInput?: boolean;
}

/**
 * Clicks and box as the tracker takes them, in model-frame pixels (x * S / W). The box goes in as its two corners
 * labelled 2 and 3 (the same prompt as the box path), box first as in SAM's predictors - or, for exports with a
 * box input of their own (`boxInput`), as a [1, boxes, 4] tensor beside the clicks, zero of them for a box alone,
 * as HF and transformers.js feed it (the graph adds the box's own padding token).
 */
export function pointPromptTensors({ points, box, image: { width, height }, imageSize, boxInput = false }: TrackerPromptInput) {
  const toModel = (x: number, y: number) => [(x * imageSize) / width, (y * imageSize) / height];
  const coords: number[] = [];
  const labels: bigint[] = [];
  const add = (x: number, y: number, label: bigint) => {
    coords.push(...toModel(x, y));
    labels.push(label);
  };
  if (box && !boxInput) {
    const [x1, y1, x2, y2] = box.box;
    add(x1, y1, LABEL.boxTopLeft);
    add(x2, y2, LABEL.boxBottomRight);
  }
  for (const p of points) add(p.x, p.y, p.positive === false ? LABEL.negative : LABEL.positive);
  const n = labels.length;
  const tensors: Record<string, ort.Tensor> = {
    points: new ort.Tensor("float32", Float32Array.from(coords), [1, 1, n, 2]),
    labels: new ort.Tensor("int64", BigInt64Array.from(labels), [1, 1, n]),
  };
  if (boxInput) {
    const corners = box ? [...toModel(box.box[0], box.box[1]), ...toModel(box.box[2], box.box[3])] : [];
    tensors.boxes = new ort.Tensor("float32", Float32Array.from(corners), [1, box ? 1 : 0, 4]);
  }
  return tensors;
}

export interface TrackerOutput {
  /** [candidates, maskSize, maskSize] mask logits: the 3 multimask candidates, or all 4 tokens (single-mask first). */
  masks: Float32Array;
  maskSize: number;
  iouScores: Float32Array;
  objectScoreLogit: number;
}

export function readTrackerOutput(out: Record<string, ort.Tensor>): TrackerOutput {
  return {
    ...maskLogits(out.masks),
    iouScores: out.iouScores.data as Float32Array,
    objectScoreLogit: (out.objectScore.data as Float32Array)[0],
  };
}

/** The candidate among `from..` the model rates best by its own IoU estimate (`iouScores`). */
export const bestCandidate = (iouScores: ArrayLike<number>, from = 0) => {
  let best = from;
  for (let i = from + 1; i < iouScores.length; i++) if (iouScores[i] > iouScores[best]) best = i;
  return best;
};

/** SAM's threshold on the single-mask output's stability, below which it is replaced by the best candidate. */
const STABILITY = { delta: 0.05, threshold: 0.98 };

/**
 * The single-mask output of a decoder that gives all 4 tokens (token 0 first), chosen as SAM's mask decoder does
 * outside training: token 0 unless its mask is unstable (area at logit > 0.05 over area at > -0.05 under 0.98),
 * then the best of the 3 candidates.
 */
export function singleMaskToken(out: TrackerOutput): number {
  const plane = out.maskSize * out.maskSize;
  let inner = 0;
  let outer = 0;
  for (let i = 0; i < plane; i++) {
    const v = out.masks[i];
    if (v > STABILITY.delta) inner++;
    if (v > -STABILITY.delta) outer++;
  }
  const stability = outer > 0 ? inner / outer : 1;
  return stability >= STABILITY.threshold ? 0 : bestCandidate(out.iouScores, 1);
}

export function candidateLogits(out: TrackerOutput, index: number): Float32Array {
  const plane = out.maskSize * out.maskSize;
  return out.masks.slice(index * plane, (index + 1) * plane);
}

/** A candidate at the image's size: logits resized bilinearly, then > 0. */
export const candidateMask = (out: TrackerOutput, index: number, width: number, height: number): Mask =>
  resizeAndThreshold(candidateLogits(out, index), out.maskSize, out.maskSize, width, height, 0);
