import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RgbImage } from "../image/decode";
import type { SegmentResult } from "../sam3";
import { segmentationToJson } from "./json";
import { maskToPng } from "./mask-png";
import { renderOverlay } from "./overlay";

/** Writes `<stem>.overlay.png`, one `<stem>.mask-<id>.png` per object and `<stem>.json`; returns the paths. */
export async function writeSegmentationFiles(result: SegmentResult, image: RgbImage, dir: string, stem: string, label?: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, Buffer | string][] = [
    [`${stem}.overlay.png`, await renderOverlay(image, result.objects.map((o) => ({ ...o, label })))],
    ...(await Promise.all(result.objects.map(async (o) => [`${stem}.mask-${o.id}.png`, await maskToPng(o.mask)] as [string, Buffer]))),
    [`${stem}.json`, JSON.stringify(segmentationToJson(result), null, 1) + "\n"],
  ];
  await Promise.all(files.map(([name, content]) => writeFile(join(dir, name), content)));
  return files.map(([name]) => join(dir, name));
}
