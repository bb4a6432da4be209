// Stills: a folder of frames or one image, decoded by sharp.

import type { Stats } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import sharp from "sharp";
import { isInside } from "../confine";
import { Sam3Error, isSam3Error } from "../errors";
import { decodeImage, type RgbImage } from "../image/decode";
import { LIMITS } from "../limits";
import { fileKey, outputSize, type DecodeSettings, type FrameDecoder } from "./frame-decoder";
import type { VideoInfo } from "./video-info";

/** A folder of frames or an image has no frame rate of its own; a video written from it plays at this one. */
const STILL_FPS = 30;
const FRAME_EXTENSIONS = new Set([".jpg", ".jpeg", ".png"]);
const naturalOrder = new Intl.Collator("en", { numeric: true }).compare;

/** A file to decode: its real path, and how errors name it (the name as the user sees it). */
export interface StillFile {
  file: string;
  shown: string;
}

/** Names read as frames: no hidden files (".", "..", "._x" metadata), nothing hard to see ("..", control characters). */
const isPlainName = (name: string) => !name.startsWith(".") && !name.includes("..") && !/[\u0000-\u001f\u007f-\u009f]/.test(name);

/** `folder` is already a real path; each frame is resolved on its own, so no entry leads elsewhere. */
export async function openFrameFolder(folder: string, settings: DecodeSettings): Promise<FrameDecoder> {
  const entries = await readdir(folder, { withFileTypes: true });
  const names = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && isPlainName(e.name) && FRAME_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(naturalOrder);
  if (names.length === 0) throw new Sam3Error("BAD_VIDEO", `no JPEG or PNG frames in the folder ${settings.label}`);
  checkFrameCount(names.length, settings);
  const files = (await Promise.all(names.map((name) => frameFile(folder, name, settings)))).filter((f) => f !== undefined);
  if (files.length === 0) throw new Sam3Error("BAD_VIDEO", `no JPEG or PNG frames in the folder ${settings.label}`);
  return openStills("frames", files, settings);
}

/**
 * One entry of a frame folder by its real path: inside the allowed folders when confined, inside the frame folder
 * itself otherwise (a frame folder is one folder); dangling links and links to non-files are not frames.
 */
async function frameFile(folder: string, name: string, { label, confine }: DecodeSettings): Promise<StillFile | undefined> {
  const shown = join(label, name);
  let real: string;
  try {
    real = await realpath(join(folder, name));
  } catch {
    return undefined;
  }
  if (confine) confine.check(real, shown);
  else if (!isInside(folder, real)) throw new Sam3Error("PATH_NOT_ALLOWED", `${shown} links outside the folder ${label}: a frame folder is read as one folder`);
  const stats = await stat(real).catch(() => undefined);
  return stats?.isFile() ? { file: real, shown } : undefined;
}

function checkFrameCount(files: number, { label, stride }: DecodeSettings): void {
  if (Math.ceil(files / stride) > LIMITS.framesPerSession) {
    throw new Sam3Error("LIMIT_EXCEEDED", `${label} has ${files.toLocaleString("en")} frames, more than the ${LIMITS.framesPerSession.toLocaleString("en")} a source may serve after stride: read every Nth frame (stride)`);
  }
}

/**
 * The first file is decoded in full here, so a truncated or corrupt image is refused at open, not at the first
 * read; its size (EXIF orientation applied) is the size every frame must have.
 */
export async function openStills(kind: "frames" | "image", files: StillFile[], settings: DecodeSettings): Promise<FrameDecoder> {
  const header = await sharp(files[0].file)
    .metadata()
    .catch(() => undefined);
  // as for video frames, the limit is a bound (LIMIT_EXCEEDED), checked from the header before decoding
  if (header?.width && header.height && header.width * header.height > settings.maxPixels) {
    throw new Sam3Error("LIMIT_EXCEEDED", `${files[0].shown} is ${header.width}x${header.height}, over the limit of ${settings.maxPixels.toLocaleString("en")} pixels a frame: downscale it first`);
  }
  const first = await readStill(files[0], settings);
  const format = header?.format;
  const sourceWidth = first.image.width;
  const sourceHeight = first.image.height;
  const { width, height } = outputSize(sourceWidth, sourceHeight, settings.maxSide);
  const info: VideoInfo = {
    kind,
    frames: Math.ceil(files.length / settings.stride),
    width,
    height,
    sourceWidth,
    sourceHeight,
    fps: STILL_FPS / settings.stride,
    durationSeconds: files.length / STILL_FPS,
    decoder: `${format ?? "image"} (sharp)`,
  };
  return new StillsDecoder(info, files, settings, first);
}

interface Still {
  image: RgbImage;
  stats: Stats;
}

/** A still decoded, its failures as BAD_VIDEO naming the file as shown. */
async function readStill({ file, shown }: StillFile, { maxPixels }: DecodeSettings): Promise<Still> {
  try {
    const [image, stats] = await Promise.all([decodeImage(file, maxPixels, shown), stat(file)]);
    return { image, stats };
  } catch (e) {
    if (isSam3Error(e)) throw new Sam3Error(e.code === "BAD_IMAGE" ? "BAD_VIDEO" : e.code, e.message, { cause: e });
    throw new Sam3Error("BAD_VIDEO", `cannot read ${shown} (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
}

class StillsDecoder implements FrameDecoder {
  /** Each file decodes on its own. */
  readonly chunkFrames = 1;

  constructor(
    readonly info: VideoInfo,
    private readonly files: StillFile[],
    private readonly settings: DecodeSettings,
    /** Decoded at open: served once, then the cache keeps it. */
    private first?: Still,
  ) {}

  decode(first: number, count: number): Promise<RgbImage[]> {
    return Promise.all(Array.from({ length: count }, (_, k) => this.decodeOne(first + k)));
  }

  async stop(): Promise<void> {}

  private async decodeOne(index: number): Promise<RgbImage> {
    const still = this.files[index * this.settings.stride];
    const opened = index === 0 ? this.first : undefined;
    if (opened) this.first = undefined;
    const { image, stats } = opened ?? (await readStill(still, this.settings));
    const { width, height, sourceWidth, sourceHeight } = this.info;
    if (image.width !== sourceWidth || image.height !== sourceHeight) {
      throw new Sam3Error("BAD_VIDEO", `${still.shown} is ${image.width}x${image.height} but the frames of ${this.settings.label} are ${sourceWidth}x${sourceHeight}`);
    }
    const data =
      width === sourceWidth && height === sourceHeight
        ? image.data
        : await sharp(image.data, { raw: { width: sourceWidth, height: sourceHeight, channels: 3 } }).resize(width, height, { fit: "fill" }).raw().toBuffer();
    return { width, height, data, key: `frame:${fileKey(still.file, stats, width, height)}` };
  }
}
