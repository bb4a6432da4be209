import * as ort from "onnxruntime-node";
import sharp from "sharp";
import type { RgbImage } from "./decode";

export interface Normalization {
  mean: number[];
  std: number[];
}

/**
 * The model's input: plain (aspect-ignoring) bilinear resize to size x size, x/255 normalised by mean / std,
 * planar NCHW float32 - as the reference processor does.
 */
export async function toPixelTensor(image: RgbImage, size: number, norm: Normalization): Promise<ort.Tensor> {
  const resized = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(size, size, { fit: "fill", kernel: "linear" })
    .raw()
    .toBuffer();
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * norm.std[c]);
    const shift = norm.mean[c] / norm.std[c];
    for (let i = 0; i < plane; i++) out[c * plane + i] = resized[i * 3 + c] * scale - shift;
  }
  return new ort.Tensor("float32", out, [1, 3, size, size]);
}
