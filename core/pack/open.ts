import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sam3Error } from "../errors";
import { manifestSchema, roleTensors, type GraphSpec, type Manifest } from "./manifest";
import { readOnnxSignature } from "./onnx-signature";
import { DEFAULT_PRESET, detectLayout, findPreset, presetDir, PRESETS } from "./presets";
import { ROLE_NAMES, type Role } from "./roles";

export interface ModelPack {
  dir: string;
  manifest: Manifest;
  /** Text / box prompts: vision + text encoders and at least one detector decoder. */
  canDetect: boolean;
  /** Point / box / mask prompts: tracker encoder and decoder. */
  canTrack: boolean;
}

export const MANIFEST_FILE = "manifest.json";

/** Opens a pack by folder or preset name and checks every file and tensor its manifest names. */
export function openPack(ref: string = DEFAULT_PRESET): ModelPack {
  const dir = resolvePackDir(ref);
  const manifest = readManifest(dir);
  for (const role of ROLE_NAMES) {
    const graph = manifest.roles[role];
    if (graph) manifest.roles[role] = checkGraph(dir, role, graph);
  }
  const has = (role: Role) => manifest.roles[role] !== undefined;
  const canDetect = has("visionEncoder") && has("textEncoder") && (has("detectorDecoder") || has("detectorDecoderBoxes"));
  const canTrack = has("trackerVisionEncoder") && has("trackerDecoder");
  if (!canDetect && !canTrack) {
    throw packError(dir, "has neither a complete detector (vision + text encoders + decoder) nor a complete tracker (encoder + decoder)");
  }
  if (canDetect && !existsSync(join(dir, manifest.tokenizer.file))) {
    throw packError(dir, `is missing its tokenizer file ${manifest.tokenizer.file}`);
  }
  return { dir, manifest, canDetect, canTrack };
}

function resolvePackDir(ref: string): string {
  const preset = findPreset(ref);
  if (preset) {
    const dir = presetDir(preset);
    if (!existsSync(dir)) {
      throw new Sam3Error("PACK_INVALID", `model preset "${ref}" is not installed: put its files in ${dir} (or set SAM3_MODELS_DIR)`);
    }
    return dir;
  }
  const dir = resolve(ref);
  if (existsSync(dir) && statSync(dir).isDirectory()) return dir;
  throw new Sam3Error(
    "UNKNOWN_PRESET",
    `"${ref}" is neither a model pack folder nor a known preset (known: ${PRESETS.map((p) => p.name).join(", ")})`,
  );
}

function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) {
    const layout = detectLayout(dir);
    if (layout?.manifest) return structuredClone(layout.manifest);
    throw packError(dir, `has no ${MANIFEST_FILE} and does not match a known export layout`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw packError(dir, `has an unreadable ${MANIFEST_FILE}: ${(e as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw packError(dir, `has an invalid ${MANIFEST_FILE}: ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

function checkGraph(dir: string, role: Role, graph: GraphSpec): GraphSpec {
  const where = `role ${role} (${graph.file})`;
  for (const file of [graph.file, ...graph.data]) {
    if (!existsSync(join(dir, file))) throw packError(dir, `${where}: file ${file} is missing`);
  }
  let signature;
  try {
    signature = readOnnxSignature(join(dir, graph.file));
  } catch (e) {
    throw packError(dir, `${where}: not a readable ONNX graph: ${(e as Error).message}`);
  }
  const wanted = roleTensors(role);
  const check = (kind: "input" | "output", names: Record<string, string>, required: readonly string[], actual: string[]) => {
    for (const key of required) {
      if (!names[key]) throw packError(dir, `${where}: the manifest maps no ${kind} tensor for "${key}"`);
    }
    for (const key of required) {
      const name = names[key];
      if (name && !actual.includes(name)) {
        throw packError(dir, `${where}: ${kind} tensor "${name}" (${key}) is not in the graph, which has ${actual.join(", ")}`);
      }
    }
  };
  check("input", graph.inputs, wanted.inputs, signature.inputs);
  check("output", graph.outputs, wanted.outputs, signature.outputs);
  // an optional input (a tracker's own box input) the graph lacks is simply not fed
  const inputs = Object.fromEntries(Object.entries(graph.inputs).filter(([key, name]) => !wanted.optionalInputs.includes(key) || signature.inputs.includes(name)));
  return { ...graph, inputs };
}

const packError = (dir: string, what: string) => new Sam3Error("PACK_INVALID", `model pack ${dir} ${what}`);
