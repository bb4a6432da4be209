import { existsSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { Sam3Error } from "../errors";
import { ensureFolder, writeFileAtomic } from "../safe-write";
import { MANIFEST_FILE } from "../pack/open";
import { readExternalDataFiles } from "../pack/onnx-signature";
import { findPreset, presetDir, PRESETS, type Preset, type PresetFile, type PresetVariant } from "../pack/presets";
import { downloadFile, sha256Of } from "./download";

export interface FetchOptions {
  /** Install into this folder instead of the preset's default place. */
  dir?: string;
  /** A mirror to fetch from instead of the preset's own address (default $SAM3_MODEL_BASE_URL). */
  baseUrl?: string;
  /** For gated repositories (default $HF_TOKEN). */
  token?: string;
  /** The precision to fetch (default: the preset's first, float32); see `sam3 models list`. */
  dtype?: string;
  onFile?: (file: string, index: number, count: number) => void;
  onProgress?: (file: string, bytes: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

export function fetchablePreset(name: string): Preset {
  const preset = findPreset(name);
  if (!preset) throw new Sam3Error("UNKNOWN_PRESET", `unknown preset "${name}" (known: ${PRESETS.map((p) => p.name).join(", ")})`);
  if (!preset.variants?.length) throw new Sam3Error("BAD_REQUEST", `preset ${name} is bundled with the package: there is nothing to fetch`);
  return preset;
}

/** The variant of a preset in one precision (default: the first, float32). */
export function presetVariant(preset: Preset, dtype?: string): PresetVariant {
  const variants = preset.variants ?? [];
  const variant = dtype === undefined ? variants[0] : variants.find((v) => v.dtype === dtype);
  if (!variant) {
    throw new Sam3Error("BAD_OPTION", `preset ${preset.name} has no ${dtype} files (it has ${variants.map((v) => v.dtype).join(", ") || "none to fetch"})`);
  }
  return variant;
}

/**
 * Downloads every file of a preset in one precision (resuming partial ones, checking published checksums), then
 * any weight file a graph names that the list missed, and writes the manifest that maps them, so the folder opens
 * as a pack. Returns the folder.
 */
export async function fetchPreset(preset: Preset, options: FetchOptions = {}): Promise<string> {
  const variant = presetVariant(preset, options.dtype);
  const dir = options.dir ?? presetDir(preset);
  // a mirror serves the pack's own layout
  const mirror = withSlash(options.baseUrl ?? process.env.SAM3_MODEL_BASE_URL ?? "");
  const token = options.token ?? process.env.HF_TOKEN;
  const queue = variant.files.map((f) => ({ ...f, url: mirror ? new URL(f.path, mirror).href : f.url }));
  const seen = new Set(queue.map((f) => f.path));
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i];
    options.onFile?.(file.path, i, queue.length);
    const dest = join(dir, file.path);
    // a finished file (checksum-verified when one is published) is not fetched again
    if (!(existsSync(dest) && (!file.sha256 || (await sha256Of(dest)) === file.sha256.toLowerCase()))) {
      await ensureFolder(dirname(dest));
      await downloadFile(file.url, dest, {
        sha256: file.sha256,
        token,
        signal: options.signal,
        onProgress: (bytes, total) => options.onProgress?.(file.path, bytes, total),
      });
    }
    if (file.path.endsWith(".onnx")) queue.push(...externalDataOf(dir, file, seen));
  }
  await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(variant.manifest, null, 2) + "\n");
  return dir;
}

/** Weight files a downloaded graph names that are not fetched yet: beside it, inside the pack, from its own address. */
function externalDataOf(dir: string, graph: PresetFile, seen: Set<string>): PresetFile[] {
  const found: PresetFile[] = [];
  for (const location of readExternalDataFiles(join(dir, graph.path))) {
    // a plain file name: beside the graph, at the address beside the graph's
    if (!/^[\w-][\w.-]*$/.test(location)) throw new Sam3Error("DOWNLOAD_FAILED", `${graph.path} names a weights file outside its folder: it was not fetched`);
    const path = posix.join(posix.dirname(graph.path), location);
    if (seen.has(path)) continue;
    seen.add(path);
    found.push({ path, url: new URL(location, graph.url).href });
  }
  return found;
}

const withSlash = (url: string) => (url && !url.endsWith("/") ? url + "/" : url);
