import { extname, relative, sep } from "node:path";
import { listFiles } from "../core";
import type { MediaPaths } from "./media-paths";

const MIME: Record<string, string> = { ".jsonl": "application/jsonl", ".json": "application/json", ".png": "image/png", ".mp4": "video/mp4" };
/** Links returned inline at most; PNG sequences can hold thousands of files. */
const MAX_LINKS = 50;

export interface FileLink {
  uri: string;
  /** The file's path inside its job folder, as written. */
  name: string;
  mimeType: string;
}

export interface LinkedFiles {
  /** The first MAX_LINKS files, in the order written (a sequence's files in name order). */
  files: FileLink[];
  /** Every file written. */
  total: number;
  /** "Wrote N files" and, when some are not linked, where they are. */
  text: string;
}

/** The written paths (files or sequence folders) of one job folder as resource links, named as they are on disk. */
export async function linkFiles(paths: MediaPaths, folder: string, written: string[]): Promise<LinkedFiles> {
  const all = (await Promise.all(written.map(listFiles))).flat();
  const files = all.slice(0, MAX_LINKS).map((f) => ({ uri: paths.outputUri(f), name: relative(folder, f).split(sep).join("/"), mimeType: MIME[extname(f)] ?? "application/octet-stream" }));
  const more = all.length > MAX_LINKS ? ` (the first ${MAX_LINKS} are linked; all are in ${paths.outputUri(folder)}/)` : "";
  return { files, total: all.length, text: `Wrote ${all.length} file${all.length === 1 ? "" : "s"}${more}.` };
}

/** Resource-link content blocks for a tool answer. */
export const linkBlocks = (files: FileLink[]) => files.map((f) => ({ type: "resource_link" as const, ...f }));
