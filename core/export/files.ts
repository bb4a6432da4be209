import { rm } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { asSam3Error, Sam3Error } from "../errors";
import type { RgbImage } from "../image/decode";
import type { Mask } from "../masks/mask";
import { segmentationToJson, type ImageResults, type SegmentationJson } from "./json";
import { maskToPng } from "./mask-png";
import { maskToPolygons } from "./polygons";
import { renderOverlay } from "./overlay";
import { cocoRleToMask } from "../masks/rle";
import { ensureFolder, writeFileAtomic } from "../safe-write";
import { cutoutPng, cutoutsZip } from "./cutouts";
import { zipFiles } from "./zip";

export interface ImageExportFormats {
  /** `<stem>.json`: the segmentation JSON with COCO RLE masks. */
  json?: boolean;
  /** `<stem>.mask-<id>.png`: one black-and-white PNG per object. */
  png?: boolean;
  /** `<stem>.polygons.json`: outer rings and holes per object, simplified by `tolerance` pixels. */
  polygons?: boolean;
  tolerance?: number;
}

const ALL: ImageExportFormats = { json: true, png: true };
const FORMATS = ["json", "png", "polygons"] as const;

/** Longest stem: the longest suffix added to it still fits a 255-byte file name. */
const MAX_STEM_LENGTH = 200;

/** A stem names files inside the output folder: never a path, a dot name or an empty one. */
export function checkStem(stem: string): string {
  if (typeof stem !== "string" || !stem || stem.length > MAX_STEM_LENGTH || /[/\\\0]/.test(stem) || /^\.+$/.test(stem)) {
    throw new Sam3Error("BAD_REQUEST", `the file name stem must be 1..${MAX_STEM_LENGTH} characters without slashes, and not "." or ".."`);
  }
  return stem;
}

/**
 * A stem for the files made from a media file: its name without folder and extension, characters outside
 * [A-Za-z0-9._-] replaced, never a dot name (output URIs hide those); `fallback` when nothing is left.
 */
export function fileStem(name: string, fallback: string): string {
  const stem = basename(name, extname(name)).replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "").slice(0, 80);
  return stem || fallback;
}

export interface ImageExportOptions extends ImageExportFormats {
  /** The folder the files go to (made if missing). */
  dir: string;
  /** File names start with this (no slashes). */
  stem: string;
}

/** The single-file downloads of an image's result. */
export type ImageResultFile = "overlay.png" | "masks.jsonl" | "masks.zip" | "cutouts.zip";

/** What only an export with the image itself can make. */
export interface ImageFileOptions extends ImageExportOptions {
  /** `<stem>.overlay.png`: the image with the objects drawn (default true). */
  overlay?: boolean;
  /** `<stem>.cutout-<id>.png`: each object cut out on a transparent background, cropped to its mask. */
  cutouts?: boolean;
}

/**
 * Writes the overlay `<stem>.overlay.png` (unless `overlay` is false), the cut-outs when asked, and the chosen
 * formats (JSON + PNGs when none of json / png / polygons is named); returns the paths.
 */
export async function writeSegmentationFiles(result: ImageResults, image: RgbImage, { dir, stem, overlay = true, cutouts, ...chosen }: ImageFileOptions): Promise<string[]> {
  checkStem(stem);
  const formats = FORMATS.some((f) => chosen[f] !== undefined) ? chosen : { ...chosen, ...ALL };
  const files = await Promise.all([
    overlay ? renderOverlay(image, result.objects).then((png): [string, Buffer][] => [[`${stem}.overlay.png`, png]]) : [],
    cutouts ? cutoutFiles(image, result.objects, stem) : [],
    maskFiles(result.objects, segmentationToJson(result), stem, formats),
  ]).catch((e: unknown) => Promise.reject(asSam3Error(e, "rendering the export")));
  return writeFiles(dir, files.flat());
}

/** `<stem>.cutout-<id>.png` for each object with a non-empty mask. */
async function cutoutFiles(image: RgbImage, objects: { id: number; mask: Mask }[], stem: string): Promise<[string, Buffer][]> {
  const files: [string, Buffer][] = [];
  for (const o of objects) {
    const png = await cutoutPng(image, o.mask);
    if (png) files.push([`${stem}.cutout-${o.id}.png`, png]);
  }
  return files;
}

/**
 * One download of an image's result: the overlay, the JSON as one line, a ZIP of one mask PNG per object, or a ZIP
 * of transparent cut-outs.
 */
export async function imageResultFile(result: ImageResults, image: RgbImage, file: ImageResultFile): Promise<Buffer> {
  if (file === "overlay.png") return renderOverlay(image, result.objects);
  if (file === "masks.jsonl") return Buffer.from(result.objects.length ? JSON.stringify(segmentationToJson(result)) + "\n" : "");
  if (file === "cutouts.zip") return cutoutsZip(image, result.objects);
  return zipFiles(await Promise.all(result.objects.map(async (o) => ({ name: `mask-${o.id}.png`, data: await maskToPng(o.mask) }))));
}

/**
 * The same files from the JSON alone (a message payload, a tool result), its RLE masks decoded; `overlay` is an
 * overlay PNG rendered earlier (the image itself is not in the JSON), written as `<stem>.overlay.png`.
 */
export async function writeSegmentationJsonFiles(json: SegmentationJson, { dir, stem, overlay, ...formats }: ImageExportOptions & { overlay?: Buffer }): Promise<string[]> {
  checkStem(stem);
  if (!Array.isArray(json?.objects)) throw new Sam3Error("BAD_REQUEST", "the segmentation JSON has no objects list");
  const objects = json.objects.map((o) => ({ id: o.id, mask: cocoRleToMask(o.rle) }));
  const files = await maskFiles(objects, json, stem, formats).catch((e: unknown) => Promise.reject(asSam3Error(e, "rendering the export")));
  return writeFiles(dir, overlay ? [[`${stem}.overlay.png`, overlay], ...files] : files);
}

async function maskFiles(objects: { id: number; mask: Mask }[], json: SegmentationJson, stem: string, formats: ImageExportFormats) {
  const files: [string, Buffer | string][] = [];
  if (formats.png) files.push(...(await Promise.all(objects.map(async (o) => [`${stem}.mask-${o.id}.png`, await maskToPng(o.mask)] as [string, Buffer]))));
  if (formats.polygons) {
    const polygons = objects.map((o) => ({ id: o.id, polygons: maskToPolygons(o.mask, { tolerance: formats.tolerance }) }));
    files.push([`${stem}.polygons.json`, JSON.stringify({ image: json.image, objects: polygons }) + "\n"]);
  }
  if (formats.json) files.push([`${stem}.json`, JSON.stringify(json, null, 1) + "\n"]);
  return files;
}

/** Writes every file under a temporary name, renamed when complete; on a failure the ones already done go too. */
async function writeFiles(dir: string, files: [string, Buffer | string][]): Promise<string[]> {
  const folder = await ensureFolder(dir);
  const paths = files.map(([name]) => join(folder, name));
  const results = await Promise.allSettled(files.map(([, content], i) => writeFileAtomic(paths[i], content)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (!failed) return files.map(([name]) => join(dir, name));
  await Promise.all(paths.map((path, i) => (results[i].status === "fulfilled" ? rm(path, { force: true }).catch(() => undefined) : undefined)));
  throw asSam3Error(failed.reason, "writing the export");
}
