import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { resolveInside } from "../confine";
import { Sam3Error, isSam3Error } from "../errors";
import { manifestSchema, roleTensors, type GraphSpec, type Manifest } from "./manifest";
import { readExternalDataFiles, readOnnxSignature, type OnnxSignature, type TensorType } from "./onnx-signature";
import { packError, packFile } from "./pack-file";
import { DEFAULT_PRESET, detectLayout, findPreset, presetDir, PRESETS } from "./presets";
import { INPUT_TYPES, OUTPUT_TYPES, ROLE_NAMES, type Role } from "./roles";
import { checkTrackerConstants } from "./tracker-constants";
import { capabilitiesOf, type Capabilities } from "./capabilities";

export interface ModelPack {
  dir: string;
  manifest: Manifest;
  /** What the pack can do, from the graphs it has. */
  capabilities: Capabilities;
}

export const MANIFEST_FILE = "manifest.json";
/** A manifest is a few kB; one this large is refused before it is read. */
const MAX_MANIFEST_BYTES = 1 << 20;

/**
 * Opens a pack by folder or preset name and checks every file and tensor its manifest names. Every file must
 * resolve (links followed) inside the pack folder; the manifest returned names each by its real path relative
 * to `dir`, so what is opened later is what was checked here. Errors name the pack as `ref` gives it.
 */
export function openPack(ref: string = DEFAULT_PRESET): ModelPack {
  try {
    return checkPack(ref);
  } catch (e) {
    if (isSam3Error(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new Sam3Error("PACK_INVALID", `model pack ${ref} cannot be read${code ? ` (${code})` : ""}`, { cause: e });
  }
}

function checkPack(ref: string): ModelPack {
  const dir = resolvePackDir(ref);
  const manifest = readManifest(dir, ref);
  for (const role of ROLE_NAMES) {
    const graph = manifest.roles[role];
    if (graph) manifest.roles[role] = checkGraph(dir, ref, role, graph, manifest.imageSize);
  }
  const constants = manifest.roles.trackerConstants;
  if (constants) manifest.roles.trackerConstants = checkTrackerConstants(dir, ref, constants).spec;
  const capabilities = capabilitiesOf(new Set(ROLE_NAMES.filter((role) => manifest.roles[role] !== undefined)), constants !== undefined);
  if (!capabilities.text && !capabilities.clicks) {
    throw packError(ref, "has neither a complete detector (vision encoder or backbone + text encoder + decoder) nor a complete tracker (encoder or backbone + decoder)");
  }
  if (capabilities.text) {
    const { tokenizer } = manifest;
    const base = packBase(dir, ref, tokenizer.pack, "the tokenizer");
    tokenizer.file = relative(dir, join(base, packFile(base, ref, tokenizer.file, "the tokenizer file")));
    delete tokenizer.pack;
  }
  return { dir, manifest, capabilities };
}

function resolvePackDir(ref: string): string {
  const preset = findPreset(ref);
  if (preset) {
    const dir = presetDir(preset);
    if (!existsSync(dir)) {
      throw new Sam3Error("PACK_INVALID", `model preset "${ref}" is not installed: put its files in ${dir} (or set SAM3_MODELS_DIR)`);
    }
    return realpathSync(dir);
  }
  const dir = resolve(ref);
  if (existsSync(dir) && statSync(dir).isDirectory()) return realpathSync(dir);
  throw new Sam3Error(
    "UNKNOWN_PRESET",
    `"${ref}" is neither a model pack folder nor a known preset (known: ${PRESETS.map((p) => p.name).join(", ")})`,
  );
}

function readManifest(dir: string, ref: string): Manifest {
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    const layout = detectLayout(dir);
    if (layout?.manifest) return structuredClone(layout.manifest);
    throw packError(ref, `has no ${MANIFEST_FILE} and does not match a known export layout`);
  }
  const file = join(dir, packFile(dir, ref, MANIFEST_FILE, "the manifest file"));
  if (statSync(file).size > MAX_MANIFEST_BYTES) throw packError(ref, `has a ${MANIFEST_FILE} over ${MAX_MANIFEST_BYTES >> 20} MiB, which is no manifest`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // the parser's message quotes the text around the error: it is not repeated
    throw packError(ref, `has an unreadable ${MANIFEST_FILE}: it is not valid JSON`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw packError(ref, `has an invalid ${MANIFEST_FILE}: ${issue.path.join(".") || "the whole file"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The folder a manifest entry's files are in: the pack's own, or the sibling pack it names (a folder beside it in
 * the same models folder, links followed and held inside that models folder).
 */
function packBase(dir: string, ref: string, sibling: string | undefined, what: string): string {
  if (!sibling) return dir;
  const models = dirname(dir);
  let base: string;
  try {
    base = resolveInside(models, sibling, `the pack ${sibling}`);
  } catch (e) {
    const outside = isSam3Error(e) && e.code === "PATH_NOT_ALLOWED";
    throw new Sam3Error(outside ? "PATH_NOT_ALLOWED" : "PACK_INVALID", `model pack ${ref}: ${what} is in the pack ${sibling}, which ${outside ? "leads outside its models folder" : "is not installed beside it in its models folder"}`);
  }
  if (!statSync(base).isDirectory() || base === dir) throw new Sam3Error("PACK_INVALID", `model pack ${ref}: ${what} is in the pack ${sibling}, which is not another pack folder`);
  return base;
}

/**
 * Checks one graph of the manifest in the folder that holds it; the entry returned names its files relative to the
 * pack folder, sibling packs' files included ("../<pack>/..."), with no `pack` left.
 */
function checkGraph(dir: string, ref: string, role: Role, spec: GraphSpec, imageSize: number): GraphSpec {
  const where = `role ${role} (${spec.pack ? `${spec.pack}/` : ""}${spec.file})`;
  const base = packBase(dir, ref, spec.pack, `role ${role}`);
  const checked = checkGraphIn(base, ref, role, { ...spec, pack: undefined }, imageSize, where);
  const fromPack = (file: string) => relative(dir, join(base, file));
  return { ...checked, file: fromPack(checked.file), data: checked.data.map(fromPack) };
}

function checkGraphIn(dir: string, ref: string, role: Role, spec: GraphSpec, imageSize: number, where: string): GraphSpec {
  const graph = { file: packFile(dir, ref, spec.file, `${where}: file`), data: spec.data.map((f) => packFile(dir, ref, f, `${where}: file`)), inputs: spec.inputs, outputs: spec.outputs };
  let signature;
  let external;
  try {
    signature = readOnnxSignature(join(dir, graph.file));
    external = readExternalDataFiles(join(dir, graph.file));
  } catch (e) {
    throw packError(ref, `${where}: not a readable ONNX graph${isSam3Error(e) ? `: ${e.message}` : ""}`);
  }
  // onnxruntime opens the weight files a graph names itself: they must stay inside the pack too
  for (const location of external) packFile(dir, ref, isAbsolute(location) ? location : join(dirname(graph.file), location), `${where}: external weights`);
  const wanted = roleTensors(role);
  const check = (kind: "input" | "output", names: Record<string, string>, required: readonly string[], actual: string[]) => {
    for (const key of required) {
      if (!names[key]) throw packError(ref, `${where}: the manifest maps no ${kind} tensor for "${key}"`);
    }
    for (const key of required) {
      const name = names[key];
      if (name && !actual.includes(name)) {
        throw packError(ref, `${where}: ${kind} tensor "${name}" (${key}) is not in the graph, which has ${listNames(actual)}`);
      }
    }
  };
  check("input", graph.inputs, wanted.inputs, signature.inputs);
  check("output", graph.outputs, wanted.outputs, signature.outputs);
  checkTypes(signature, graph, (reason) => packError(ref, `${where}: ${reason}`), imageSize);
  // an optional input (a tracker's own box input) the graph lacks is simply not fed
  const inputs = Object.fromEntries(Object.entries(graph.inputs).filter(([key, name]) => !wanted.optionalInputs.includes(key) || signature.inputs.includes(name)));
  return { ...graph, inputs };
}

/**
 * Each mapped tensor's element type and rank against what the pipeline feeds and reads, so a graph that would fail
 * at its first run (a uint8 image input, int64 labels given as float, another image size) is refused at open.
 */
function checkTypes(signature: OnnxSignature, graph: GraphSpec, invalid: (reason: string) => Error, imageSize: number) {
  const describe = (t: TensorType) => `${t.type}${t.dims ? ` [${t.dims.join(", ")}]` : ""}`;
  for (const [key, name] of Object.entries(graph.inputs)) {
    const want = INPUT_TYPES[key];
    const actual = signature.tensors[name];
    if (!want || !actual || actual.type === "unknown") continue;
    if (!want.types.includes(actual.type)) {
      throw invalid(`input "${name}" (${key}) is ${describe(actual)}; the pipeline feeds ${want.types.join(" or ")}${key === "pixels" && actual.type === "uint8" ? " pixels normalised outside the graph" : ""}`);
    }
    if (actual.dims && actual.dims.length !== want.rank) throw invalid(`input "${name}" (${key}) is ${describe(actual)}; the pipeline feeds ${want.rank} dimensions`);
    const [, channels, height, width] = actual.dims ?? [];
    if (key === "pixels" && [channels, height, width].some((d, i) => typeof d === "number" && d !== (i ? imageSize : 3))) {
      throw invalid(`input "${name}" takes ${describe(actual)} images; the manifest's imageSize is ${imageSize} (3 x ${imageSize} x ${imageSize})`);
    }
  }
  for (const [key, name] of Object.entries(graph.outputs)) {
    const actual = signature.tensors[name];
    if (actual && actual.type !== "unknown" && !OUTPUT_TYPES.includes(actual.type)) throw invalid(`output "${name}" (${key}) is ${describe(actual)}; the pipeline reads float32 or float16`);
  }
}

/** The graph's tensor names when they look like names; a file that is no real graph has its bytes kept out of errors. */
function listNames(names: string[]): string {
  const plain = names.length <= 32 && names.every((n) => /^[\w.:/-]{1,128}$/.test(n));
  return plain ? names.join(", ") : `${names.length} tensors whose names are not shown`;
}
