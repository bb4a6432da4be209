import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";
import sharp from "sharp";
import { Sam3Error } from "../errors";
import { LIMITS } from "../limits";

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
export const DEFAULT_MAX_PIXELS: number = LIMITS.pixels;

/**
 * The raster formats read. Anything else sharp's build may know is refused: SVG can refer to other files, and
 * loaders such as PDF or ImageMagick's read far more than an image.
 */
const IMAGE_FORMATS = new Set(["jpeg", "png", "webp", "gif", "tiff", "avif", "heif"]);

/** `label` names the image in errors (an upload's own name); default the path as given, or "image" for bytes. */
export async function decodeImage(input: ImageInput, maxPixels = DEFAULT_MAX_PIXELS, label = typeof input === "string" ? input : "image"): Promise<RgbImage> {
  const bytes = await readInput(input, label);
  if (bytes.length === 0) throw new Sam3Error("BAD_IMAGE", `${label} is empty (0 bytes)`);
  const options: sharp.SharpOptions = { limitInputPixels: maxPixels, failOn: "error", pages: 1 };
  const format = await sharp(bytes, options)
    .metadata()
    .then((m) => m.format, (e: Error) => e);
  if (format instanceof Error) throw new Sam3Error("BAD_IMAGE", `cannot decode ${label}: ${describeSharpError(format, maxPixels)}`, { cause: format });
  if (!format || !IMAGE_FORMATS.has(format)) throw new Sam3Error("BAD_IMAGE", `cannot decode ${label}: ${UNSUPPORTED}`);
  let decoded;
  try {
    decoded = await sharp(bytes, options)
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

const UNSUPPORTED = "not an image format that can be read (JPEG, PNG, WebP, TIFF, GIF, AVIF, HEIF)";

/**
 * The bytes of a regular file: a folder, pipe or device is refused from its stat, before it is opened (opening a
 * device can act on it, reading a pipe can wait forever), and again on the open handle in case it was swapped.
 */
async function readInput(input: ImageInput, label: string): Promise<Buffer> {
  if (typeof input !== "string") return Buffer.isBuffer(input) ? input : Buffer.from(input);
  const notAFile = (folder: boolean) =>
    new Sam3Error("BAD_IMAGE", `${label} is ${folder ? "a folder" : "not a regular file (a pipe, device or socket)"}, not an image file`);
  try {
    const before = await stat(input);
    if (!before.isFile()) throw notAFile(before.isDirectory());
    const handle = await open(input, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const opened = await handle.stat();
      if (!opened.isFile()) throw notAFile(opened.isDirectory());
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof Sam3Error) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Sam3Error("BAD_IMAGE", `image file not found: ${label}`);
    if (code === "ERR_FS_FILE_TOO_LARGE") throw new Sam3Error("LIMIT_EXCEEDED", `${label} is too large to be an image that can be read`);
    throw new Sam3Error("BAD_IMAGE", `cannot read ${label} (${code ?? "unreadable"})`);
  }
}

function describeSharpError(e: Error, maxPixels: number): string {
  if (/pixel limit/i.test(e.message)) {
    return `the image is larger than the limit of ${maxPixels.toLocaleString("en")} pixels (if the image is genuine, raise the limit: maxPixels, or --max-pixels on the command line)`;
  }
  if (/unsupported image format/i.test(e.message)) return UNSUPPORTED;
  if (/read error|premature end|truncated|corrupt|invalid/i.test(e.message)) return `the file is truncated or corrupt (${firstLine(e)})`;
  return firstLine(e);
}

const firstLine = (e: Error) => e.message.split("\n")[0];
