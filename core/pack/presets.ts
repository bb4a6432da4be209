import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODELS_DIR, installedModelsDir } from "../paths";
import { ONNX_COMMUNITY_TRACKER_ROLES, USLS_SAM3_IMAGE_ROLES } from "./layouts";
import type { Manifest } from "./manifest";

/** A file of a downloadable preset: where it lands in the pack, where it comes from, and its checksum if published. */
export interface PresetFile {
  path: string;
  /** Relative to the preset's base URL (or SAM3_MODEL_BASE_URL). */
  source: string;
  sha256?: string;
  /** Approximate size, for `sam3 models list`. */
  bytes?: number;
}

export interface Preset {
  name: string;
  description: string;
  licence: string;
  /** Where a downloadable preset's files come from. */
  baseUrl?: string;
  files?: PresetFile[];
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
    baseUrl: "https://github.com/jamjamjon/assets/releases/download/sam3/",
    files: ["vision-encoder.onnx", "text-encoder.onnx", "decoder.onnx", "tokenizer.json"].map((f) => ({ path: f, source: f })),
  },
  {
    name: "onnx-community-sam3-tracker",
    description: "SAM 3 tracker (point and box prompts), onnx-community export used by transformers.js",
    licence: SAM_LICENCE,
    manifest: realManifest("onnx-community-sam3-tracker", "SAM 3 tracker, onnx-community export", ONNX_COMMUNITY_TRACKER_ROLES),
    baseUrl: "https://huggingface.co/onnx-community/sam3-tracker-ONNX/resolve/main/",
    files: ["onnx/vision_encoder.onnx", "onnx/vision_encoder.onnx_data", "onnx/prompt_encoder_mask_decoder.onnx", "onnx/prompt_encoder_mask_decoder.onnx_data"].map((f) => ({ path: f, source: f })),
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
