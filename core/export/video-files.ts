import { mkdtemp, open as openFile, readFile, rename, rm, writeFile, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asSam3Error, Sam3Error } from "../errors";
import type { RgbImage } from "../image/decode";
import type { Mask } from "../masks/mask";
import { cocoRleToMask } from "../masks/rle";
import { ensureFolder, partialName } from "../safe-write";
import { cutoutPng } from "./cutouts";
import { checkStem } from "./files";
import { frameToJson, type ResultObject } from "./json";
import { maskToPng } from "./mask-png";
import { maskToPolygons } from "./polygons";
import { renderOverlayRgb } from "./overlay";
import { VideoWriter } from "./video-writer";
import { zipFiles } from "./zip";

/** What a video export reads: each frame's stored objects and the frames themselves. */
export interface VideoResults {
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Whether anything was ever prompted: mask files of an unprompted video would say nothing. */
  readonly prompted: boolean;
  objectsOn(frame: number): readonly ResultObject[];
  readFrame(frame: number): Promise<RgbImage>;
}

/** The single-file downloads of a video's results. */
export type VideoResultFile = "masks.jsonl" | "masks.zip" | "overlay.mp4";

export interface VideoExportOptions {
  /** `<stem>.overlay.mp4`: every frame with its objects drawn, ids and colours stable. */
  overlay?: boolean;
  /** `<stem>.frames.jsonl`: one JSON line per frame that has results. */
  json?: boolean;
  /** `<stem>.masks/obj-<id>/<frame>.png`: one PNG sequence per object. */
  png?: boolean;
  /** `<stem>.cutouts/obj-<id>/<frame>.png`: each object cut out of each frame, transparent around it, cropped to its mask. */
  cutouts?: boolean;
  /** `<stem>.polygons.jsonl`: one line per frame with each object's polygons, simplified by `tolerance` pixels. */
  polygons?: boolean;
  tolerance?: number;
  /** Told after each frame is written. */
  onFrame?: (done: number, total: number) => void;
}

/** One output being written under a temporary name: `done` moves it into place. */
interface PendingOutput {
  name: string;
  final: string;
  partial: string;
  /** Renamed into place (so a later failure must remove it). */
  placed?: boolean;
}

/**
 * Writes a session's results to files; returns their paths (PNG sequences as their folders). Everything is
 * written under temporary names and renamed only when the whole export succeeded; a failure removes it all and
 * throws a typed error (WRITE_FAILED for a full disk or an unwritable folder).
 */
export async function writeVideoResults(results: VideoResults, dir: string, stem: string, options: VideoExportOptions): Promise<string[]> {
  checkStem(stem);
  // an overlay of an unprompted session still shows the video; mask files would say nothing
  if ((options.json || options.png || options.cutouts || options.polygons) && !results.prompted) throw new Sam3Error("BAD_REQUEST", "no results to export: add a prompt and propagate first");
  const folder = await ensureFolder(dir);
  const pending: PendingOutput[] = [];
  const start = (name: string): PendingOutput => {
    const output: PendingOutput = { name, final: join(folder, name), partial: partialName(join(folder, name)) };
    pending.push(output);
    return output;
  };
  const overlay = options.overlay ? start(`${stem}.overlay.mp4`) : undefined;
  const json = options.json ? start(`${stem}.frames.jsonl`) : undefined;
  const polygons = options.polygons ? start(`${stem}.polygons.jsonl`) : undefined;
  const png = options.png ? start(`${stem}.masks`) : undefined;
  const cutouts = options.cutouts ? start(`${stem}.cutouts`) : undefined;
  let video: VideoWriter | undefined;
  const files: FileHandle[] = [];
  try {
    const jsonFile = json && files[files.push(await openFile(json.partial, "w")) - 1];
    const polygonsFile = polygons && files[files.push(await openFile(polygons.partial, "w")) - 1];
    for (const sequence of [png, cutouts]) if (sequence) await ensureFolder(sequence.partial);
    const { frames, width, height, fps } = results;
    // the writer makes its own temporary file and renames it on close
    if (overlay) video = await VideoWriter.open(overlay.final, { width, height, fps });
    for (let t = 0; t < frames; t++) {
      const objects = results.objectsOn(t);
      // one line per frame, as `sam3 track --json` prints them: a frame without objects says so
      if (jsonFile) await jsonFile.write(JSON.stringify(frameToJson(t, objects, width, height)) + "\n");
      // each stored mask is decoded once per frame, whatever the formats
      const masks = png || cutouts || polygonsFile || video ? objects.map((o) => cocoRleToMask(o.rle)) : [];
      const frame = video || cutouts ? await results.readFrame(t) : undefined;
      if (polygonsFile) {
        const shapes = objects.map((o, i) => ({ id: o.id, polygons: maskToPolygons(masks[i], { tolerance: options.tolerance }) }));
        await polygonsFile.write(JSON.stringify({ frame_index: t, objects: shapes }) + "\n");
      }
      for (const [i, o] of objects.entries()) {
        if (png) await writeSequenceFrame(png.partial, o.id, t, await maskToPng(masks[i]));
        if (cutouts) await writeSequenceFrame(cutouts.partial, o.id, t, await cutoutPng(frame!, masks[i]));
      }
      if (video) await video.write(await renderOverlayRgb(frame!, withMasks(objects, masks)));
      options.onFrame?.(t + 1, frames);
    }
    for (const file of files.splice(0)) await file.close();
    await video?.close();
    if (overlay) overlay.placed = true;
    for (const output of pending) if (output !== overlay) await moveIntoPlace(output);
  } catch (e) {
    await Promise.all(files.map((file) => file.close().catch(() => undefined)));
    await video?.abort();
    await Promise.all(pending.map((o) => rm(o.placed ? o.final : o.partial, { recursive: true, force: true }).catch(() => undefined)));
    throw asSam3Error(e, "writing the video results");
  }
  return pending.map((o) => join(dir, o.name));
}

/**
 * One download of a video's results: the frames that have objects as JSON lines, a ZIP of one PNG sequence per
 * object (`obj-<id>/<frame>.png`, as the PNG export names them), or the overlay MP4.
 */
export async function videoResultFile(results: VideoResults, file: VideoResultFile): Promise<Buffer> {
  const { frames, width, height } = results;
  if (file === "masks.jsonl") {
    const lines: string[] = [];
    for (let t = 0; t < frames; t++) {
      const objects = results.objectsOn(t);
      if (objects.length) lines.push(JSON.stringify(frameToJson(t, objects, width, height)) + "\n");
    }
    return Buffer.from(lines.join(""));
  }
  if (file === "masks.zip") {
    const entries: { name: string; data: Buffer }[] = [];
    for (let t = 0; t < frames; t++) {
      for (const o of results.objectsOn(t)) entries.push({ name: `obj-${o.id}/${framePngName(t)}`, data: await maskToPng(cocoRleToMask(o.rle)) });
    }
    return zipFiles(entries);
  }
  const dir = await mkdtemp(join(tmpdir(), "sam3-overlay-"));
  try {
    const [video] = await writeVideoResults(results, dir, "overlay", { overlay: true });
    return await readFile(video);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const framePngName = (t: number) => `${String(t).padStart(6, "0")}.png`;

/** One object's PNG of frame t in a sequence folder (`obj-<id>/<frame>.png`); an empty cut-out has none. */
async function writeSequenceFrame(folder: string, id: number, t: number, png: Buffer | undefined) {
  if (png) await writeFile(join(await ensureFolder(join(folder, `obj-${id}`)), framePngName(t)), png);
}

const withMasks = (objects: readonly ResultObject[], masks: Mask[]) => objects.map((o, i) => ({ ...o, mask: masks[i] }));

/** Renames a finished output into place; a PNG folder replaces the previous export's folder of that name. */
async function moveIntoPlace(output: PendingOutput) {
  await rm(output.final, { recursive: true, force: true });
  await rename(output.partial, output.final);
  output.placed = true;
}
