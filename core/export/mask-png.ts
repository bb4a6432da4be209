import sharp from "sharp";
import type { Mask } from "../masks/mask";

/** A mask as an 8-bit greyscale PNG: 255 inside, 0 outside. */
export function maskToPng(mask: Mask): Promise<Buffer> {
  const grey = Buffer.from(mask.data.map((v) => (v ? 255 : 0)));
  return sharp(grey, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
}

/** Reads a mask PNG back (any pixel above mid-grey is inside). */
export async function pngToMask(png: Buffer): Promise<Mask> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  const channels = info.channels;
  const mask = new Uint8Array(info.width * info.height);
  for (let i = 0; i < mask.length; i++) mask[i] = data[i * channels] > 127 ? 1 : 0;
  return { width: info.width, height: info.height, data: mask };
}
