import sharp from "sharp";
import type { RgbImage } from "../image/decode";
import { maskBox, type Mask } from "../masks/mask";
import { zipFiles } from "./zip";

/** An object to cut out: its id names the file. */
export interface CutoutObject {
  id: number;
  mask: Mask;
}

/**
 * The object as a transparent PNG: the image cropped to the mask's tight box, alpha 255 inside the mask and 0
 * outside; undefined for an empty mask.
 */
export async function cutoutPng(image: RgbImage, mask: Mask): Promise<Buffer | undefined> {
  const box = maskBox(mask);
  if (!box) return undefined;
  const [x1, y1, x2, y2] = box;
  const width = x2 - x1;
  const height = y2 - y1;
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y + y1) * image.width + x + x1;
      const to = (y * width + x) * 4;
      rgba[to] = image.data[from * 3];
      rgba[to + 1] = image.data[from * 3 + 1];
      rgba[to + 2] = image.data[from * 3 + 2];
      rgba[to + 3] = mask.data[from] ? 255 : 0;
    }
  }
  return sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

/** A ZIP of `cutout-<id>.png`, one per object with a non-empty mask. */
export async function cutoutsZip(image: RgbImage, objects: CutoutObject[]): Promise<Buffer> {
  const files = [];
  for (const o of objects) {
    const data = await cutoutPng(image, o.mask);
    if (data) files.push({ name: `cutout-${o.id}.png`, data });
  }
  return zipFiles(files);
}
