import { type ImageObjectJson, imageResultFile } from "../core";
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

const EXPORT_TYPES: Record<string, string> = { "overlay.png": "image/png", "masks.jsonl": "application/jsonl", "masks.zip": "application/zip", "cutouts.zip": "application/zip" };

export async function exportImage({ session }: ImageMedia, file: string): Promise<ExportedFile> {
  if (file === "overlay.png" || file === "masks.jsonl" || file === "masks.zip" || file === "cutouts.zip") {
    return { type: EXPORT_TYPES[file], data: await imageResultFile(session.results(), session.image, file) };
  }
  throw new WebError(400, "BAD_REQUEST", "an image has no overlay video: download overlay.png");
}
