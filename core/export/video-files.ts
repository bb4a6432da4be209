import { open as openFile, rename, rm, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { asSam3Error, Sam3Error } from "../errors";
import { VideoWriter } from "./video-writer";
import type { VideoSession } from "../video/session";
import { checkStem } from "./files";
import { frameToJson } from "./json";
import { maskToPng } from "./mask-png";
import { maskToPolygons } from "./polygons";
import { renderOverlayRgb } from "./overlay";
import { ensureFolder, partialName } from "../safe-write";

export interface VideoExportOptions {
  /** `<stem>.overlay.mp4`: every frame with its objects drawn, ids and colours stable. */
  overlay?: boolean;
  /** `<stem>.frames.jsonl`: one JSON line per frame that has results. */
  json?: boolean;
  /** `<stem>.masks/obj-<id>/<frame>.png`: one PNG sequence per object. */
  png?: boolean;
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
export async function writeVideoResults(session: VideoSession, dir: string, stem: string, options: VideoExportOptions): Promise<string[]> {
  checkStem(stem);
  const masks = options.json || options.png || options.polygons;
  // an overlay of an unprompted session still shows the video; mask files would say nothing
  if (masks && !session.hasPrompts()) throw new Sam3Error("BAD_REQUEST", "no results to export: add a prompt and propagate first");
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
  let video: VideoWriter | undefined;
  const files: FileHandle[] = [];
  try {
    const jsonFile = json && files[files.push(await openFile(json.partial, "w")) - 1];
    const polygonsFile = polygons && files[files.push(await openFile(polygons.partial, "w")) - 1];
    if (png) await ensureFolder(png.partial);
    const { frames, width, height, fps } = session.source.info;
    // the writer makes its own temporary file and renames it on close
    if (overlay) video = await VideoWriter.open(overlay.final, { width, height, fps });
    for (let t = 0; t < frames; t++) {
      const outputs = session.outputs.outputs(t);
      // one line per frame, as `sam3 track --json` prints them: a frame without objects says so
      if (jsonFile) await jsonFile.write(JSON.stringify(frameToJson({ frame_index: t, outputs })) + "\n");
      if (polygonsFile) {
        const objects = outputs.out_obj_ids.map((id, i) => ({ id, polygons: maskToPolygons(outputs.out_binary_masks[i], { tolerance: options.tolerance }) }));
        await polygonsFile.write(JSON.stringify({ frame_index: t, objects }) + "\n");
      }
      if (png) {
        for (const [i, id] of outputs.out_obj_ids.entries()) {
          const objectFolder = await ensureFolder(join(png.partial, `obj-${id}`));
          await writeFile(join(objectFolder, `${String(t).padStart(6, "0")}.png`), await maskToPng(outputs.out_binary_masks[i]));
        }
      }
      if (video) {
        const objects = outputs.out_obj_ids.map((id, i) => ({
          id,
          score: outputs.out_probs[i],
          mask: outputs.out_binary_masks[i],
          box: toPixelBox(outputs.out_boxes_xywh[i], width, height),
          label: session.labelOf(id),
        }));
        await video.write(await renderOverlayRgb(await session.source.readFrame(t), objects));
      }
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

/** Renames a finished output into place; a PNG folder replaces the previous export's folder of that name. */
async function moveIntoPlace(output: PendingOutput) {
  await rm(output.final, { recursive: true, force: true });
  await rename(output.partial, output.final);
  output.placed = true;
}

const toPixelBox = ([x, y, w, h]: number[], width: number, height: number): [number, number, number, number] => [x * width, y * height, (x + w) * width, (y + h) * height];
