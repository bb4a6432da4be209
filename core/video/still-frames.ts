// Stills: a folder of frames or one image, decoded by sharp.

import type { Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import sharp from "sharp";
import { Sam3Error, isSam3Error } from "../errors";
import { decodeImage, type RgbImage } from "../image/decode";
import { fileKey, outputSize, type DecodeSettings, type FrameDecoder } from "./frame-decoder";
import type { VideoInfo } from "./frame-source";

/** A folder of frames or an image has no frame rate of its own; a video written from it plays at this one. */
const STILL_FPS = 30;
const FRAME_EXTENSIONS = new Set([".jpg", ".jpeg", ".png"]);
const naturalOrder = new Intl.Collator("en", { numeric: true }).compare;

export async function openFrameFolder(folder: string, settings: DecodeSettings): Promise<FrameDecoder> {
  const entries = await readdir(folder, { withFileTypes: true });
  const files = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith(".") && FRAME_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(naturalOrder)
    .map((name) => join(folder, name));
  if (files.length === 0) throw new Sam3Error("BAD_VIDEO", `no JPEG or PNG frames in the folder ${folder}`);
  return openStills("frames", folder, files, settings);
}

export async function openStills(kind: "frames" | "image", path: string, files: string[], settings: DecodeSettings): Promise<FrameDecoder> {
  let header: sharp.Metadata;
  try {
    header = await sharp(files[0]).metadata();
  } catch (e) {
    throw new Sam3Error("BAD_VIDEO", `${files[0]} is neither a video nor an image that can be read (${(e as Error).message})`);
  }
  // EXIF orientations 5 to 8 turn the image a quarter, and decodeImage applies them
  const turned = (header.orientation ?? 1) >= 5;
  const sourceWidth = turned ? header.height! : header.width!;
  const sourceHeight = turned ? header.width! : header.height!;
  const { width, height } = outputSize(sourceWidth, sourceHeight, settings.maxSide);
  const frames = Math.ceil(files.length / settings.stride);
  const info: VideoInfo = {
    kind,
    frames,
    width,
    height,
    sourceWidth,
    sourceHeight,
    fps: STILL_FPS / settings.stride,
    durationSeconds: files.length / STILL_FPS,
    decoder: `${header.format} (sharp)`,
  };
  return new StillsDecoder(info, path, files, settings.stride);
}

class StillsDecoder implements FrameDecoder {
  /** Each file decodes on its own. */
  readonly chunkFrames = 1;

  constructor(
    readonly info: VideoInfo,
    private readonly path: string,
    private readonly files: string[],
    private readonly stride: number,
  ) {}

  decode(first: number, count: number): Promise<RgbImage[]> {
    return Promise.all(Array.from({ length: count }, (_, k) => this.decodeOne(first + k)));
  }

  async stop(): Promise<void> {}

  private async decodeOne(index: number): Promise<RgbImage> {
    const file = this.files[index * this.stride];
    const { width, height, sourceWidth, sourceHeight } = this.info;
    let image: RgbImage;
    let stats: Stats;
    try {
      [image, stats] = await Promise.all([decodeImage(file), stat(file)]);
    } catch (e) {
      throw isSam3Error(e) ? new Sam3Error("BAD_VIDEO", e.message, { cause: e }) : new Sam3Error("BAD_VIDEO", `cannot read ${file}: ${(e as Error).message}`);
    }
    if (image.width !== sourceWidth || image.height !== sourceHeight) {
      throw new Sam3Error("BAD_VIDEO", `${file} is ${image.width}x${image.height} but the frames of ${this.path} are ${sourceWidth}x${sourceHeight}`);
    }
    const data =
      width === sourceWidth && height === sourceHeight
        ? image.data
        : await sharp(image.data, { raw: { width: sourceWidth, height: sourceHeight, channels: 3 } }).resize(width, height, { fit: "fill" }).raw().toBuffer();
    return { width, height, data, key: `frame:${fileKey(file, stats, width, height)}` };
  }
}
