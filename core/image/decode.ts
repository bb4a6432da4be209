import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { Sam3Error } from "../errors";

/** A file path or the encoded bytes of any format sharp reads (JPEG, PNG, WebP, TIFF, GIF, AVIF...). */
export type ImageInput = string | Buffer | Uint8Array;

/** Decoded pixels: RGB, 8 bits, row-major, upright (EXIF orientation applied). */
export interface RgbImage {
  width: number;
  height: number;
  data: Buffer;
  /** Content hash: the key of the feature caches. */
  key: string;
}

/** Refuse images above this many pixels unless told otherwise: a decompression bomb must not exhaust memory. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export async function decodeImage(input: ImageInput, maxPixels = DEFAULT_MAX_PIXELS): Promise<RgbImage> {
  const bytes = await readInput(input);
  const label = typeof input === "string" ? input : "image";
  if (bytes.length === 0) throw new Sam3Error("BAD_IMAGE", `${label} is empty (0 bytes)`);
  let decoded;
  try {
    decoded = await sharp(bytes, { limitInputPixels: maxPixels, failOn: "error", pages: 1 })
      .rotate()
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Sam3Error("BAD_IMAGE", `cannot decode ${label}: ${describeSharpError(e as Error, maxPixels)}`, { cause: e });
  }
  const { width, height } = decoded.info;
  if (width === 0 || height === 0) throw new Sam3Error("BAD_IMAGE", `${label} has no pixels (${width}x${height})`);
  return { width, height, data: decoded.data, key: createHash("sha1").update(bytes).digest("hex") };
}

async function readInput(input: ImageInput): Promise<Buffer> {
  if (typeof input !== "string") return Buffer.isBuffer(input) ? input : Buffer.from(input);
  try {
    return await readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Sam3Error("BAD_IMAGE", code === "ENOENT" ? `image file not found: ${input}` : `cannot read ${input}: ${(e as Error).message}`);
  }
}

function describeSharpError(e: Error, maxPixels: number): string {
  if (/pixel limit/i.test(e.message)) {
    return `the image is larger than the limit of ${maxPixels.toLocaleString("en")} pixels (raise maxPixels if it is genuine)`;
  }
  if (/unsupported image format/i.test(e.message)) return "not an image format that can be read (JPEG, PNG, WebP, TIFF, GIF, AVIF)";
  if (/read error|premature end|truncated|corrupt|invalid/i.test(e.message)) return `the file is truncated or corrupt (${firstLine(e)})`;
  return firstLine(e);
}

const firstLine = (e: Error) => e.message.split("\n")[0];
