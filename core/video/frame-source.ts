import type { Stats } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { extname, resolve } from "node:path";
import sharp from "sharp";
import type { Confinement } from "../confine";
import { Sam3Error, isSam3Error } from "../errors";
import type { RgbImage } from "../image/decode";
import { LIMITS } from "../limits";
import { FrameCache } from "./frame-cache";
import type { DecodeSettings, FrameDecoder } from "./frame-decoder";
import { openFrameFolder, openStills } from "./still-frames";
import { openVideo } from "./video-decoder";
import type { VideoInfo } from "./video-info";

export type { VideoInfo };

export interface FrameSource {
  readonly path: string;
  readonly info: VideoInfo;
  /** Set when the video is truncated or partly unreadable: the frames counted in info.frames still decode. */
  readonly decodeError?: string;
  /** The frame at an index; the image may be shared with the cache, so it must not be modified. */
  readFrame(index: number, direction?: "forward" | "backward"): Promise<RgbImage>;
  /** Bytes held by the frame cache now. */
  cachedBytes(): number;
  close(): Promise<void>;
}

export interface FrameSourceOptions {
  /** Downscale frames whose longer side exceeds this many pixels (aspect kept). */
  maxSide?: number;
  /** Serve every Nth source frame only: frame i is source frame i * stride. */
  stride?: number;
  /** Budget of the decoded-frame cache (default 256 MB). */
  cacheBytes?: number;
  /** The folders the source and every file it opens must resolve into (links followed); unconfined when absent. */
  confine?: Confinement;
  /** How errors name the source (an upload's own name); default the path as given. */
  label?: string;
  /** Frames above this many pixels are refused before decoding (default LIMITS.pixels). */
  maxPixels?: number;
}

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
// an animated GIF is a video: ffmpeg decodes every frame where sharp would read the first
const VIDEO_EXTENSIONS = new Set([".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".gif"]);
const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".avif", ".heic", ".heif"]);

/** Opens a video file, a folder of JPEG / PNG frames or a single image as a sequence of RGB frames. */
export async function openFrameSource(path: string, options: FrameSourceOptions = {}): Promise<FrameSource> {
  const settings = checkOptions(path, options);
  const { label } = settings;
  let stats: Stats;
  let file: string;
  try {
    // the real path is what every later check and read sees, so no link can change under them
    file = options.confine ? resolveConfined(options.confine, path, label) : await realpath(resolve(path));
    stats = await stat(file);
  } catch (e) {
    if (isSam3Error(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new Sam3Error("BAD_VIDEO", code === "ENOENT" ? `video not found: ${label}` : `cannot read ${label} (${code})`);
  }
  if (!stats.isDirectory() && !stats.isFile()) {
    throw new Sam3Error("BAD_VIDEO", `${label} is not a regular file (a pipe, device or socket): give a video file, an image or a folder of frames`);
  }
  const decoder = stats.isDirectory() ? await openFrameFolder(file, settings) : await openFile(file, stats, settings);
  return new DecodingFrameSource(path, label, decoder, settings.cacheBytes);
}

/** The confinement's answer, its errors naming the source by its label (an upload's temporary path stays unsaid). */
function resolveConfined(confine: Confinement, path: string, label: string): string {
  try {
    return confine.resolve(path);
  } catch (e) {
    if (isSam3Error(e) && label !== path) throw new Sam3Error(e.code, e.message.split(path).join(label), { cause: e });
    throw e;
  }
}

function checkOptions(path: string, { maxSide, stride, cacheBytes, confine, label, maxPixels }: FrameSourceOptions): DecodeSettings {
  if (maxSide !== undefined && !(Number.isInteger(maxSide) && maxSide > 0)) throw new Sam3Error("BAD_OPTION", `maxSide must be a positive integer, got ${maxSide}`);
  if (stride !== undefined && !(Number.isInteger(stride) && stride > 0)) throw new Sam3Error("BAD_OPTION", `stride must be a positive integer, got ${stride}`);
  if (cacheBytes !== undefined && !(Number.isFinite(cacheBytes) && cacheBytes >= 0)) throw new Sam3Error("BAD_OPTION", `cacheBytes must be a number >= 0, got ${cacheBytes}`);
  if (maxPixels !== undefined && !(Number.isSafeInteger(maxPixels) && maxPixels > 0)) throw new Sam3Error("BAD_OPTION", `maxPixels must be a positive integer, got ${maxPixels}`);
  return {
    maxSide: maxSide ?? Infinity,
    stride: stride ?? 1,
    cacheBytes: cacheBytes ?? DEFAULT_CACHE_BYTES,
    label: label || path,
    maxPixels: maxPixels ?? LIMITS.pixels,
    confine,
  };
}

async function openFile(file: string, stats: Stats, settings: DecodeSettings): Promise<FrameDecoder> {
  const extension = extname(file).toLowerCase();
  const image = [{ file, shown: settings.label }];
  if (IMAGE_EXTENSIONS.has(extension)) return openStills("image", image, settings);
  if (VIDEO_EXTENSIONS.has(extension)) return openVideo(file, stats, settings);
  // an unknown extension: the content decides. What starts like an image, or what sharp recognises, is an image,
  // also when it then fails to decode: a broken image is refused as one, never handed to ffmpeg
  return (await isImage(file)) ? openStills("image", image, settings) : openVideo(file, stats, settings);
}

/** The first bytes of the image formats read (GIF is left to sharp's judgement: as a file of its own it is a video). */
const IMAGE_SIGNATURES = [[0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47], [0x49, 0x49, 0x2a, 0x00], [0x4d, 0x4d, 0x00, 0x2a]];
/** ISO base media brands of HEIF and AVIF images (an MP4 has the same box with other brands). */
const IMAGE_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis"]);

async function isImage(file: string): Promise<boolean> {
  const head = Buffer.alloc(16);
  const handle = await open(file, "r");
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const starts = (signature: number[]) => signature.every((b, i) => head[i] === b);
  if (IMAGE_SIGNATURES.some(starts)) return true;
  if (head.toString("latin1", 0, 4) === "RIFF" && head.toString("latin1", 8, 12) === "WEBP") return true;
  if (head.toString("latin1", 4, 8) === "ftyp" && IMAGE_BRANDS.has(head.toString("latin1", 8, 12))) return true;
  return sharp(file)
    .metadata()
    .then(
      () => true,
      () => false,
    );
}

/** A decode in progress: frames [first, first + count). */
interface Chunk {
  first: number;
  count: number;
  frames: Promise<RgbImage[]>;
}

class DecodingFrameSource implements FrameSource {
  private readonly cache: FrameCache;
  private readonly chunks = new Set<Chunk>();
  private closed = false;

  constructor(
    readonly path: string,
    private readonly label: string,
    private readonly decoder: FrameDecoder,
    cacheBytes: number,
  ) {
    this.cache = new FrameCache(cacheBytes);
  }

  get info(): VideoInfo {
    return this.decoder.info;
  }

  get decodeError(): string | undefined {
    return this.decoder.decodeError;
  }

  async readFrame(index: number, direction: "forward" | "backward" = "forward"): Promise<RgbImage> {
    if (this.closed) throw this.closedError();
    const { frames } = this.info;
    if (!Number.isInteger(index) || index < 0 || index >= frames) {
      throw new Sam3Error("BAD_REQUEST", `frame ${index} is out of range: ${this.label} has frames 0..${frames - 1}`);
    }
    const cached = this.cache.get(index);
    if (cached) return cached;
    const chunk = [...this.chunks].find((c) => index >= c.first && index < c.first + c.count) ?? this.startChunk(index, direction);
    let decoded: RgbImage[];
    try {
      decoded = await chunk.frames;
    } catch (e) {
      throw this.closed ? this.closedError() : e;
    }
    if (this.closed) throw this.closedError();
    return decoded[index - chunk.first];
  }

  cachedBytes(): number {
    return this.cache.bytes;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.decoder.stop();
    this.cache.clear();
  }

  /** A chunk starting at index going forward, or ending at it going backward. */
  private startChunk(index: number, direction: "forward" | "backward"): Chunk {
    const size = this.decoder.chunkFrames;
    const first = direction === "backward" ? Math.max(0, index - size + 1) : index;
    const count = direction === "backward" ? index - first + 1 : Math.min(size, this.info.frames - index);
    const frames = this.decoder.decode(first, count).then((decoded) => {
      // kept in reading order, so the frames read last are the last evicted
      const order = direction === "backward" ? [...decoded.keys()].reverse() : [...decoded.keys()];
      if (!this.closed) for (const k of order) this.cache.put(first + k, decoded[k]);
      return decoded;
    });
    const chunk = { first, count, frames };
    this.chunks.add(chunk);
    frames.then(
      () => this.chunks.delete(chunk),
      () => this.chunks.delete(chunk),
    );
    return chunk;
  }

  private closedError(): Sam3Error {
    return new Sam3Error("CLOSED", `the frame source ${this.label} is closed`);
  }
}
