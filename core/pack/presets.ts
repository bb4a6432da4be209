import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR, installedModelsDir } from "../paths";
import { capabilitiesOf, type Capabilities, type Capability } from "./capabilities";
import { PUBLIC_LAYOUTS, type PublicLayout } from "./layouts";
import type { Manifest } from "./manifest";
import { ROLE_NAMES, type Role } from "./roles";

/** A file of a downloadable preset: where it lands in the pack, where it comes from, and its checksum if published. */
export interface PresetFile {
  path: string;
  /** Where the publisher serves it (a mirror serves it under `path` instead). */
  url: string;
  sha256?: string;
}

/** One precision of a downloadable preset: its files, their total size where published, the manifest mapping them. */
export interface PresetVariant {
  dtype: string;
  files: PresetFile[];
  bytes?: number;
  manifest: Manifest;
}

export interface Preset {
  name: string;
  description: string;
  licence: string;
  /** A pack shipped inside this package (folder under models/). */
  bundled?: boolean;
  /** Downloadable precisions, the default (float32) first. */
  variants?: PresetVariant[];
  /** False until the layout has been checked against the publisher's real files (names, tensors, dtypes). */
  verified: boolean;
  capabilities: Capabilities;
}

const SAM_LICENCE = "SAM License (Meta): accept it on the facebook/sam3 model page before use";
const RANDOM = "random weights, real tensor layout: proves the pipeline, masks are meaningless";
/** The bundled packs are this project's own export: every role. */
const ALL_ROLES = new Set<Role>(ROLE_NAMES);

const manifestFor = (name: string, description: string, roles: Manifest["roles"]): Manifest => ({
  name,
  description,
  imageSize: 1008,
  normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  tokenizer: { file: "tokenizer.json", contextLength: 32 },
  thresholds: { detection: 0.5, mask: 0.5, minRegionArea: 16 },
  roles,
});

/**
 * A preset made of one or more public exports installed in one folder: each part's graphs in the precision asked
 * for, under the part's own file names, fetched from the part's own address.
 */
function downloadable(name: string, description: string, parts: PublicLayout[]): Preset {
  const dtypes = parts.map((p) => Object.keys(p.dtypes)).reduce((all, d) => all.filter((x) => d.includes(x)));
  const variants = dtypes.map((dtype): PresetVariant => {
    const roles: Manifest["roles"] = {};
    const files: PresetFile[] = [];
    let bytes: number | undefined = 0;
    for (const part of parts) {
      const variant = part.variant(dtype);
      Object.assign(roles, variant.roles);
      files.push(...variant.files.map((f) => ({ ...f, url: new URL(f.path, part.baseUrl).href })));
      bytes = bytes !== undefined && variant.bytes !== undefined ? bytes + variant.bytes : undefined;
    }
    return { dtype, files, bytes, manifest: manifestFor(name, description, roles) };
  });
  const roles = new Set(Object.keys(variants[0].manifest.roles) as Role[]);
  // no public export's files have been checked against its layout here yet
  return { name, description, licence: SAM_LICENCE, variants, verified: false, capabilities: capabilitiesOf(roles) };
}

const bundled = (name: string, description: string): Preset => ({
  name,
  description,
  licence: "Apache-2.0",
  bundled: true,
  verified: true,
  capabilities: capabilitiesOf(ALL_ROLES, true),
});

const { uslsImage, uslsTracker, onnxCommunityTracker } = PUBLIC_LAYOUTS;

export const PRESETS: Preset[] = [
  bundled("sam3-tiny-336", `tiny SAM 3 at 336 px, ${RANDOM}`),
  bundled("sam3-tiny-1008", `tiny SAM 3 at 1008 px (real shapes), ${RANDOM}`),
  // composites first: a folder holding both parts is detected as the whole
  downloadable("usls-sam3", "SAM 3 detector and tracker of the usls release `sam3` in one pack: text, exemplar boxes, clicks, box, video", [uslsImage, uslsTracker]),
  downloadable(
    "sam3-usls-detector-onnx-community-tracker",
    "usls v2 detector and the onnx-community tracker in one pack: text, exemplar boxes, clicks, box, video",
    [uslsImage, onnxCommunityTracker],
  ),
  downloadable("usls-sam3-image", "SAM 3 detector (text and exemplar boxes), usls v2 export", [uslsImage]),
  downloadable("usls-sam3-tracker", "SAM 3 tracker (clicks and box), usls export", [uslsTracker]),
  downloadable("onnx-community-sam3-tracker", "SAM 3 tracker (clicks and box), onnx-community export used by transformers.js", [onnxCommunityTracker]),
];

export const DEFAULT_PRESET = "sam3-tiny-336";

export const findPreset = (name: string) => PRESETS.find((p) => p.name === name);

/** The folder a preset lives in: inside the package when bundled, else in the installed-models folder. */
export const presetDir = (preset: Preset) =>
  preset.bundled ? join(BUNDLED_MODELS_DIR, preset.name) : join(installedModelsDir(), preset.name);

/** A preset with real weights that can do `capability` (a bundled one when none can), for error messages. */
export const presetWith = (capability: Capability): string | undefined =>
  (PRESETS.find((p) => !p.bundled && p.capabilities[capability]) ?? PRESETS.find((p) => p.capabilities[capability]))?.name;

/** The preset variant whose files a manifest-less folder holds, if any (the first complete one). */
export function detectLayout(dir: string): PresetVariant | undefined {
  for (const preset of PRESETS) {
    for (const variant of preset.variants ?? []) {
      // the graphs decide; a missing weights file is then named by the pack check
      if (Object.values(variant.manifest.roles).every((g) => existsSync(join(dir, g!.file)))) return variant;
    }
  }
  return undefined;
}
