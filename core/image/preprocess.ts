import * as ort from "onnxruntime-node";
import type { RgbImage } from "./decode";
import { resizeRgb } from "./resize";

export interface Normalization {
  mean: number[];
  std: number[];
}

/**
 * The model's input: plain (aspect-ignoring) antialiased bilinear resize to size x size, x/255 normalised by mean / std,
 * planar NCHW float32 - as the reference processor does.
 */
export function toPixelTensor(image: RgbImage, size: number, norm: Normalization): ort.Tensor {
  const resized = resizeRgb(image.data, image.width, image.height, size, size);
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * norm.std[c]);
    const shift = norm.mean[c] / norm.std[c];
    for (let i = 0; i < plane; i++) out[c * plane + i] = resized[i * 3 + c] * scale - shift;
  }
  return new ort.Tensor("float32", out, [1, 3, size, size]);
}
