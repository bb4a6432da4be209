import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR, installedModelsDir } from "../paths";
import { ONNX_COMMUNITY_TRACKER_ROLES, USLS_SAM3_IMAGE_ROLES } from "./layouts";
import type { Manifest } from "./manifest";

export interface Preset {
  name: string;
  description: string;
  licence: string;
  /** A pack shipped inside this package (folder under models/). */
  bundled?: boolean;
  /** For downloaded layouts that carry no manifest of their own: the manifest that maps their files. */
  manifest?: Manifest;
}

const SAM_LICENCE = "SAM License (Meta): accept it on the facebook/sam3 model page before use";
const RANDOM = "random weights, real tensor layout: proves the pipeline, masks are meaningless";

const realManifest = (name: string, description: string, roles: Manifest["roles"]): Manifest => ({
  name,
  description,
  imageSize: 1008,
  normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  tokenizer: { file: "tokenizer.json", contextLength: 32 },
  thresholds: { detection: 0.5, mask: 0.5, minRegionArea: 16 },
  roles,
});

export const PRESETS: Preset[] = [
  { name: "sam3-tiny-336", description: `tiny SAM 3 at 336 px, ${RANDOM}`, licence: "Apache-2.0", bundled: true },
  { name: "sam3-tiny-1008", description: `tiny SAM 3 at 1008 px (real shapes), ${RANDOM}`, licence: "Apache-2.0", bundled: true },
  {
    name: "usls-sam3-image",
    description: "SAM 3 image detector (text and box prompts), usls v2 ONNX export",
    licence: SAM_LICENCE,
    manifest: realManifest("usls-sam3-image", "SAM 3 detector, usls v2 export", USLS_SAM3_IMAGE_ROLES),
  },
  {
    name: "onnx-community-sam3-tracker",
    description: "SAM 3 tracker (point and box prompts), onnx-community export used by transformers.js",
    licence: SAM_LICENCE,
    manifest: realManifest("onnx-community-sam3-tracker", "SAM 3 tracker, onnx-community export", ONNX_COMMUNITY_TRACKER_ROLES),
  },
];

export const DEFAULT_PRESET = "sam3-tiny-336";

export const findPreset = (name: string) => PRESETS.find((p) => p.name === name);

/** The folder a preset lives in: inside the package when bundled, else in the installed-models folder. */
export const presetDir = (preset: Preset) =>
  preset.bundled ? join(BUNDLED_MODELS_DIR, preset.name) : join(installedModelsDir(), preset.name);

/** The preset whose files a manifest-less folder holds, if any. */
export function detectLayout(dir: string): Preset | undefined {
  return PRESETS.find((p) => p.manifest && Object.values(p.manifest.roles).every((g) => !g || existsSync(join(dir, g.file))));
}
