import { existsSync } from "node:fs";
import { join } from "node:path";
import { asSam3Error, Sam3Error, type Sam3ErrorCode } from "../errors";
import { describeCapabilities } from "../pack/capabilities";
import { MANIFEST_FILE } from "../pack/open";
import { presetDir, PRESETS } from "../pack/presets";
import { fetchablePreset, fetchPreset, presetVariant } from "./fetch";

/** A preset as a picker shows it: what it can do, whether it is here, what fetching it costs. */
export interface PresetEntry {
  name: string;
  description: string;
  licence: string;
  /** "bundled" (inside the package), "installed" (fetched, manifest written) or "available" (can be fetched). */
  state: "bundled" | "installed" | "available";
  capabilities: string;
  /** False until the layout has been checked against the publisher's real files. */
  verified: boolean;
  /** Precisions that can be fetched, the default first, with their size where published. */
  dtypes: { dtype: string; bytes?: number }[];
}

/** Every preset and whether it is installed (a fetched folder counts once its manifest is written, i.e. complete). */
export function presetCatalogue(): PresetEntry[] {
  return PRESETS.map((p) => ({
    name: p.name,
    description: p.description,
    licence: p.licence,
    state: p.bundled ? "bundled" : existsSync(join(presetDir(p), MANIFEST_FILE)) ? "installed" : "available",
    capabilities: describeCapabilities(p.capabilities),
    verified: p.verified,
    dtypes: (p.variants ?? []).map((v) => ({ dtype: v.dtype, ...(v.bytes ? { bytes: v.bytes } : {}) })),
  }));
}

/** Where the one fetch stands: the file being downloaded and its bytes, or how it ended. */
export interface FetchStatus {
  state: "idle" | "running" | "done" | "failed" | "cancelled";
  preset?: string;
  dtype?: string;
  /** The file being downloaded (its path inside the pack), its place in the list, and its bytes so far / in all. */
  file?: string;
  fileIndex?: number;
  files?: number;
  bytes?: number;
  total?: number;
  error?: { code: Sam3ErrorCode; message: string };
}

const MAX_NAME = 128;

/**
 * Fetches presets into the installed-models folder for a face that cannot show a terminal (the Node-RED editor):
 * one fetch at a time, always into the preset's own folder there, its progress read by polling `status`.
 */
export class PresetFetcher {
  private current: FetchStatus = { state: "idle" };
  private controller: AbortController | undefined;

  get status(): FetchStatus {
    return { ...this.current };
  }

  /** Starts fetching `name` in precision `dtype` (default the preset's first); refused while another runs. */
  start(name: unknown, dtype?: unknown): FetchStatus {
    if (this.current.state === "running") throw new Sam3Error("LIMIT_EXCEEDED", `${this.current.preset} is being fetched: one fetch at a time, wait for it or cancel it`);
    if (typeof name !== "string" || !name || name.length > MAX_NAME) throw new Sam3Error("BAD_REQUEST", "name the preset to fetch");
    if (dtype !== undefined && (typeof dtype !== "string" || dtype.length > MAX_NAME)) throw new Sam3Error("BAD_OPTION", "the precision must be one of the preset's (fp32, fp16...)");
    const preset = fetchablePreset(name);
    const variant = presetVariant(preset, dtype || undefined);
    const controller = (this.controller = new AbortController());
    const running: FetchStatus = (this.current = { state: "running", preset: preset.name, dtype: variant.dtype, files: variant.files.length, fileIndex: 0, bytes: 0 });
    fetchPreset(preset, {
      dtype: variant.dtype,
      signal: controller.signal,
      onFile: (file, index, count) => Object.assign(running, { file, fileIndex: index, files: count, bytes: 0, total: undefined }),
      onProgress: (_file, bytes, total) => Object.assign(running, { bytes, total }),
    }).then(
      () => (this.current = { state: "done", preset: preset.name, dtype: variant.dtype, files: running.files }),
      (e: unknown) => {
        const cancelled = controller.signal.aborted;
        const error = cancelled ? undefined : asSam3Error(e, `fetching ${preset.name}`);
        this.current = { state: cancelled ? "cancelled" : "failed", preset: preset.name, dtype: variant.dtype, ...(error ? { error: { code: error.code, message: error.message } } : {}) };
      },
    );
    return this.status;
  }

  /** Stops the running fetch; its partial file stays, so fetching again resumes it. */
  cancel(): FetchStatus {
    if (this.current.state === "running") this.controller?.abort();
    return this.status;
  }
}
