import { cutoutsZip, type ImageObjectJson, maskToPng, renderOverlay, zipFiles } from "../core";
import { WebError } from "./http";
import type { ImageMedia } from "./media-store";
import { checkOnFrame, type PromptRequest } from "./requests";

/** A file of an export route: its type and bytes. */
export interface ExportedFile {
  type: string;
  data: Buffer | string;
}

/** Text finds every instance of each concept; clicks or a box add to object obj_id, or make a new one. */
export async function promptImage({ session }: ImageMedia, request: PromptRequest): Promise<ImageObjectJson[]> {
  if ((request.frame ?? 0) !== 0) throw new WebError(400, "BAD_REQUEST", "an image has only frame 0");
  checkOnFrame(request, session.image.width, session.image.height);
  const options = { threshold: request.threshold, fineness: request.fineness };
  if (request.concepts.length) return session.find(request.concepts, options);
  return session.prompt({ points: request.points, box: request.box, objectId: request.obj_id }, options);
}

export async function exportImage({ session }: ImageMedia, file: string): Promise<ExportedFile> {
  const objects = session.masks();
  switch (file) {
    case "overlay.png":
      return { type: "image/png", data: await renderOverlay(session.image, objects) };
    case "masks.jsonl":
      return { type: "application/jsonl", data: JSON.stringify(session.toJson()) + "\n" };
    case "masks.zip":
      return { type: "application/zip", data: zipFiles(await Promise.all(objects.map(async (o) => ({ name: `mask-${o.id}.png`, data: await maskToPng(o.mask) })))) };
    case "cutouts.zip":
      return { type: "application/zip", data: await cutoutsZip(session.image, objects) };
    default:
      throw new WebError(400, "BAD_REQUEST", "an image has no overlay video: download overlay.png");
  }
}
