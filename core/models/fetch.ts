import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { Sam3Error } from "../errors";
import { ensureFolder, writeFileAtomic } from "../export/safe-write";
import { MANIFEST_FILE } from "../pack/open";
import { findPreset, presetDir, PRESETS, type Preset } from "../pack/presets";
import { downloadFile, sha256Of } from "./download";

export interface FetchOptions {
  /** Install into this folder instead of the preset's default place. */
  dir?: string;
  /** A mirror to fetch from instead of the preset's own address (default $SAM3_MODEL_BASE_URL). */
  baseUrl?: string;
  /** For gated repositories (default $HF_TOKEN). */
  token?: string;
  onFile?: (file: string, index: number, count: number) => void;
  onProgress?: (file: string, bytes: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

export function fetchablePreset(name: string): Preset {
  const preset = findPreset(name);
  if (!preset) throw new Sam3Error("UNKNOWN_PRESET", `unknown preset "${name}" (known: ${PRESETS.map((p) => p.name).join(", ")})`);
  if (!preset.files?.length) throw new Sam3Error("BAD_REQUEST", `preset ${name} is bundled with the package: there is nothing to fetch`);
  return preset;
}

/**
 * Downloads every file of a preset (resuming partial ones, checking published checksums) and writes the manifest
 * that maps them, so the folder opens as a pack. Returns the folder.
 */
export async function fetchPreset(preset: Preset, options: FetchOptions = {}): Promise<string> {
  const dir = options.dir ?? presetDir(preset);
  const base = withSlash(options.baseUrl ?? process.env.SAM3_MODEL_BASE_URL ?? preset.baseUrl ?? "");
  if (!base) throw new Sam3Error("BAD_REQUEST", `preset ${preset.name} has no download address: pass a base URL`);
  const token = options.token ?? process.env.HF_TOKEN;
  const files = preset.files ?? [];
  for (const [i, file] of files.entries()) {
    options.onFile?.(file.path, i, files.length);
    const dest = join(dir, file.path);
    // a finished file (checksum-verified when one is published) is not fetched again
    if (existsSync(dest) && (!file.sha256 || (await sha256Of(dest)) === file.sha256.toLowerCase())) continue;
    await ensureFolder(dirname(dest));
    await downloadFile(new URL(file.source, base).href, dest, {
      sha256: file.sha256,
      token,
      signal: options.signal,
      onProgress: (bytes, total) => options.onProgress?.(file.path, bytes, total),
    });
  }
  if (preset.manifest) await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(preset.manifest, null, 2) + "\n");
  return dir;
}

const withSlash = (url: string) => (url && !url.endsWith("/") ? url + "/" : url);
