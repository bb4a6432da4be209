import { mkdir, open as openFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { VideoWriter } from "../video/video-writer";
import type { VideoSession } from "../video/session";
import { frameToJson } from "./json";
import { maskToPng } from "./mask-png";
import { maskToPolygons } from "./polygons";
import { renderOverlayRgb } from "./overlay";

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

/** Writes a session's results to files; returns their paths (PNG sequences as their folders). */
export async function writeVideoResults(session: VideoSession, dir: string, stem: string, options: VideoExportOptions): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const { frames, width, height, fps } = session.source.info;
  const written: string[] = [];
  const jsonPath = join(dir, `${stem}.frames.jsonl`);
  const json = options.json ? await openFile(jsonPath, "w") : undefined;
  const polygonsPath = join(dir, `${stem}.polygons.jsonl`);
  const polygons = options.polygons ? await openFile(polygonsPath, "w") : undefined;
  const overlayPath = join(dir, `${stem}.overlay.mp4`);
  const video = options.overlay ? await VideoWriter.open(overlayPath, { width, height, fps }) : undefined;
  const pngDir = join(dir, `${stem}.masks`);
  let pngsWritten = false;
  try {
    for (let t = 0; t < frames; t++) {
      const outputs = session.outputs.outputs(t);
      if (json && outputs.out_obj_ids.length) await json.write(JSON.stringify(frameToJson({ frame_index: t, outputs })) + "\n");
      if (polygons && outputs.out_obj_ids.length) {
        const objects = outputs.out_obj_ids.map((id, i) => ({ id, polygons: maskToPolygons(outputs.out_binary_masks[i], { tolerance: options.tolerance }) }));
        await polygons.write(JSON.stringify({ frame_index: t, objects }) + "\n");
      }
      if (options.png && outputs.out_obj_ids.length) {
        pngsWritten = true;
        await Promise.all(
          outputs.out_obj_ids.map(async (id, i) => {
            const folder = join(pngDir, `obj-${id}`);
            await mkdir(folder, { recursive: true });
            await writeFile(join(folder, `${String(t).padStart(6, "0")}.png`), await maskToPng(outputs.out_binary_masks[i]));
          }),
        );
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
    await video?.close();
  } catch (e) {
    video?.abort();
    throw e;
  } finally {
    await json?.close();
    await polygons?.close();
  }
  if (video) written.push(overlayPath);
  if (json) written.push(jsonPath);
  if (polygons) written.push(polygonsPath);
  if (pngsWritten) written.push(pngDir);
  return written;
}

const toPixelBox = ([x, y, w, h]: number[], width: number, height: number): [number, number, number, number] => [x * width, y * height, (x + w) * width, (y + h) * height];
