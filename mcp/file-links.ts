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
  /** Every single file, then each sequence's first files, MAX_LINKS in all at most. */
  files: FileLink[];
  /** Every file written. */
  total: number;
  /** What was written, each sequence with its file count and folder URI. */
  text: string;
}

/**
 * The written paths (files, or folders of sequences) of one job folder as resource links named as they are on
 * disk. Single files are all linked; the sequences share the links left, so each kind of export is reachable.
 */
export async function linkFiles(paths: MediaPaths, folder: string, written: string[]): Promise<LinkedFiles> {
  const listed = await Promise.all(written.map(async (path) => ({ path, files: await listFiles(path) })));
  const isSequence = (entry: { path: string; files: string[] }) => entry.files[0] !== entry.path;
  const sequences = listed.filter(isSequence).length;
  const singles = listed.length - sequences;
  const share = sequences ? Math.max(1, Math.floor((MAX_LINKS - singles) / sequences)) : 0;
  const name = (f: string) => relative(folder, f).split(sep).join("/");
  const link = (f: string) => ({ uri: paths.outputUri(f), name: name(f), mimeType: MIME[extname(f)] ?? "application/octet-stream" });
  const files = listed.flatMap((entry) => (isSequence(entry) ? entry.files.slice(0, share) : entry.files)).slice(0, MAX_LINKS).map(link);
  const total = listed.reduce((sum, entry) => sum + entry.files.length, 0);
  const parts = listed.map((entry) => (isSequence(entry) ? `${name(entry.path)}/ (${entry.files.length} files${entry.files.length > share ? `, the first ${share} linked; all in ${paths.outputUri(entry.path)}/` : ""})` : name(entry.path)));
  const linked = files.length < total ? ` (${files.length} linked)` : "";
  return { files, total, text: `Wrote ${total} file${total === 1 ? "" : "s"}${linked}${parts.length ? `: ${parts.join(", ")}` : ""}.` };
}

/** Resource-link content blocks for a tool answer. */
export const linkBlocks = (files: FileLink[]) => files.map((f) => ({ type: "resource_link" as const, ...f }));
