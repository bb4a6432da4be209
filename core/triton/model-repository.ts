import { constants } from "node:fs";
import { copyFile, lstat, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize, resolve, sep } from "node:path";
import { asSam3Error, isSam3Error, Sam3Error } from "../errors";
import { checkRange } from "../runtime/options";
import type { ModelPack } from "../pack/open";
import { readExternalDataFiles, readOnnxSignature, type OnnxSignature } from "../pack/onnx-signature";
import { shownName } from "../pack/pack-file";
import { ROLE_NAMES } from "../pack/roles";
import { ensureFolder, partialName } from "../safe-write";
import { tritonModelName } from "./model-names";

export interface TritonRepositoryOptions {
  /** Copies of each model Triton runs side by side (on each GPU with kind "gpu"): 1 to 16, default 1. */
  instances?: number;
  /** Where the instances run: "gpu" (default) or "cpu". */
  kind?: "gpu" | "cpu";
  /** Let onnxruntime hand the graphs to TensorRT at this precision (GPU only); off when absent. */
  tensorrt?: "off" | "fp16" | "fp32";
  /** The largest batch Triton forms across requests, for graphs that batch: 1 to 64, default 8. */
  maxBatch?: number;
  /** How long a request may wait for others to batch with: 0 to 1,000,000 microseconds, default 100. */
  queueDelayMicroseconds?: number;
}

/** One model of a written repository. */
export interface TritonModel {
  /** The model's name on the server (its folder). */
  name: string;
  /** The pack's graph file it serves, relative to the pack folder. */
  graph: string;
  /** Whether Triton batches requests to it (dynamic batching). */
  batched: boolean;
}

type Settings = Required<Omit<TritonRepositoryOptions, "tensorrt">> & { tensorrt?: "fp16" | "fp32" };
type Config = { text: string; batched: boolean };

/** ONNX element types -> Triton's; a graph with any other type is refused rather than served wrongly. */
const TRITON_TYPES: Record<string, string> = {
  float32: "TYPE_FP32",
  float16: "TYPE_FP16",
  int64: "TYPE_INT64",
  int32: "TYPE_INT32",
  bool: "TYPE_BOOL",
  uint8: "TYPE_UINT8",
};
const KINDS = ["gpu", "cpu"] as const;
const PRECISIONS = ["fp16", "fp32"] as const;
// TensorRT's scratch space per engine build; 1 GiB fits every SAM 3 graph
const TENSORRT_WORKSPACE_BYTES = 1 << 30;

/**
 * Writes a Triton model repository for a pack: one onnxruntime model per graph file (`<name>/config.pbtxt`,
 * `<name>/1/model.onnx` and its external weight files under their own relative names). `outDir` must be new or
 * empty; the repository is written in a hidden folder beside it and renamed into place when complete, so a failure
 * or a kill never leaves a folder that looks whole.
 */
export async function writeTritonRepository(pack: ModelPack, outDir: string, options: TritonRepositoryOptions = {}): Promise<TritonModel[]> {
  // a mistaken option fails before any graph is read
  checkOptions(options);
  const models = planModels(pack, options);
  const target = resolve(outDir);
  await checkEmpty(target);
  await ensureFolder(dirname(target));
  const partial = partialName(target);
  try {
    await mkdir(partial);
    for (const model of models) {
      const version = join(partial, model.name, "1");
      await mkdir(version, { recursive: true });
      await writeFile(join(partial, model.name, "config.pbtxt"), model.config.text);
      await copy(join(pack.dir, model.graph), join(version, "model.onnx"));
      for (const location of model.external) {
        await mkdir(dirname(join(version, location)), { recursive: true });
        await copy(join(pack.dir, dirname(model.graph), location), join(version, location));
      }
    }
    await rename(partial, target).catch((e: NodeJS.ErrnoException) => {
      // something was put in the empty folder meanwhile
      throw e.code === "ENOTEMPTY" || e.code === "EEXIST" ? notEmpty() : e;
    });
  } catch (e) {
    await rm(partial, { recursive: true, force: true });
    throw asSam3Error(e, "writing the Triton model repository");
  }
  return models.map(({ name, graph, config }) => ({ name, graph, batched: config.batched }));
}

function checkOptions(options: TritonRepositoryOptions): Settings {
  const instances = whole("instances", options.instances, 1, 16, 1);
  const maxBatch = whole("maxBatch", options.maxBatch, 1, 64, 8);
  const queueDelayMicroseconds = whole("queueDelayMicroseconds", options.queueDelayMicroseconds, 0, 1_000_000, 100);
  const kind = options.kind ?? "gpu";
  if (!KINDS.includes(kind)) throw new Sam3Error("BAD_OPTION", `kind must be gpu or cpu, got ${String(kind).slice(0, 40)}`);
  const tensorrt = options.tensorrt === "off" ? undefined : options.tensorrt;
  if (tensorrt !== undefined && !PRECISIONS.includes(tensorrt)) throw new Sam3Error("BAD_OPTION", `tensorrt must be off, fp16 or fp32, got ${String(tensorrt).slice(0, 40)}`);
  if (tensorrt && kind !== "gpu") throw new Sam3Error("BAD_OPTION", "tensorrt runs on GPU instances only: drop it or use kind gpu");
  return { instances, kind, tensorrt, maxBatch, queueDelayMicroseconds };
}

/** A whole-number option, or its default when absent. */
function whole(name: string, value: number | undefined, min: number, max: number, fallback: number): number {
  checkRange(name, value, min, max);
  return value ?? fallback;
}

interface PlannedModel {
  name: string;
  graph: string;
  config: Config;
  /** The graph's external weight files, relative to its folder. */
  external: string[];
}

/** Every graph file of the manifest once (roles may share one), with its config, before anything is written. */
function planModels(pack: ModelPack, options: TritonRepositoryOptions): PlannedModel[] {
  const models = new Map<string, PlannedModel>();
  for (const role of ROLE_NAMES) {
    const graph = pack.manifest.roles[role]?.file;
    if (!graph || [...models.values()].some((m) => m.graph === graph)) continue;
    const name = tritonModelName(pack.manifest.name, graph);
    if (models.has(name)) throw new Sam3Error("PACK_INVALID", `model pack ${pack.manifest.name}: graphs ${models.get(name)!.graph} and ${graph} would both be the Triton model ${name}; give them different file names`);
    const file = join(pack.dir, graph);
    try {
      models.set(name, { name, graph, config: tritonModelConfig(name, readOnnxSignature(file), options, graph), external: externalFiles(file, graph) });
    } catch (e) {
      // the pack was checked when opened: a graph unreadable now was changed or removed since
      throw isSam3Error(e) ? e : new Sam3Error("PACK_INVALID", `model pack ${pack.manifest.name}: graph ${graph} cannot be read`, { cause: e });
    }
  }
  return [...models.values()];
}

/** The graph's weight files; each must sit in or under its folder, where the model folder can hold it too. */
function externalFiles(file: string, graph: string): string[] {
  return readExternalDataFiles(file).map((location) => {
    const relative = normalize(location);
    if (isAbsolute(relative) || relative === ".." || relative.startsWith(`..${sep}`)) {
      throw new Sam3Error("PACK_INVALID", `graph ${graph} keeps weights outside its own folder, which a Triton model folder cannot hold: move them beside the graph`);
    }
    return relative;
  });
}

/**
 * A model's config.pbtxt. Requests are batched only when every tensor's first dimension is the same symbolic one
 * (the batch); otherwise each request runs as sent (max_batch_size 0, full shapes). Symbolic dimensions are -1.
 */
export function tritonModelConfig(name: string, signature: OnnxSignature, options: TritonRepositoryOptions = {}, graph = name): Config {
  const settings = checkOptions(options);
  const tensors = [...signature.inputs, ...signature.outputs].map((tensor) => {
    const { type, dims } = signature.tensors[tensor] ?? { type: "unknown" };
    const dataType = TRITON_TYPES[type];
    if (!dataType) throw new Sam3Error("PACK_INVALID", `graph ${graph}: tensor ${shownName(tensor)} is ${type}, which the Triton repository does not serve (it takes ${Object.keys(TRITON_TYPES).join(", ")})`);
    if (!dims) throw new Sam3Error("PACK_INVALID", `graph ${graph}: tensor ${shownName(tensor)} declares no shape, which a Triton config needs`);
    return { tensor, dataType, dims };
  });
  const first = tensors[0]?.dims[0];
  const batched = typeof first === "string" && first !== "?" && tensors.every(({ dims }) => dims[0] === first);
  const block = (input: boolean) =>
    tensors
      .filter(({ tensor }) => signature.inputs.includes(tensor) === input)
      .map(({ tensor, dataType, dims }) => {
        const shape = (batched ? dims.slice(1) : dims).map((d) => (typeof d === "number" ? d : -1));
        // Triton takes no empty dims: a scalar is declared as one element and reshaped back
        const dimsText = shape.length ? `dims: [ ${shape.join(", ")} ]` : "dims: [ 1 ]\n    reshape: { shape: [ ] }";
        return `  {\n    name: ${quote(tensor)}\n    data_type: ${dataType}\n    ${dimsText}\n  }`;
      })
      .join(",\n");
  const lines = [`name: ${quote(name)}`, `backend: "onnxruntime"`, `max_batch_size: ${batched ? settings.maxBatch : 0}`];
  if (batched) lines.push(`dynamic_batching {\n  max_queue_delay_microseconds: ${settings.queueDelayMicroseconds}\n}`);
  lines.push(`input [\n${block(true)}\n]`, `output [\n${block(false)}\n]`);
  lines.push(`instance_group [\n  {\n    count: ${settings.instances}\n    kind: ${settings.kind === "gpu" ? "KIND_GPU" : "KIND_CPU"}\n  }\n]`);
  if (settings.tensorrt) lines.push(tensorrtBlock(settings.tensorrt));
  return { text: lines.join("\n") + "\n", batched };
}

function tensorrtBlock(precision: "fp16" | "fp32"): string {
  const parameter = (key: string, value: string) => `        parameters { key: ${quote(key)} value: ${quote(value)} }`;
  return [
    "optimization {",
    "  execution_accelerators {",
    "    gpu_execution_accelerator : [",
    "      {",
    '        name : "tensorrt"',
    parameter("precision_mode", precision.toUpperCase()),
    parameter("max_workspace_size_bytes", String(TENSORRT_WORKSPACE_BYTES)),
    "      }",
    "    ]",
    "  }",
    "}",
  ].join("\n");
}

/** A protobuf text-format string: quotes and backslashes escaped, control characters as octal escapes. */
const quote = (text: string) =>
  `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`)}"`;

const notEmpty = () => new Sam3Error("WRITE_FAILED", "the output folder is not empty: give a new or empty folder for the model repository");

/** The target must be absent or an empty folder (a link is not followed). */
async function checkEmpty(target: string) {
  const found = await lstat(target).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(asSam3Error(e, "opening the output folder"))));
  if (!found) return;
  if (!found.isDirectory()) throw new Sam3Error("WRITE_FAILED", "the output folder names something that is not a folder");
  if ((await readdir(target).catch((e) => Promise.reject(asSam3Error(e, "reading the output folder")))).length) throw notEmpty();
}

/** A byte-identical copy (a copy-on-write clone where the file system offers one). */
const copy = (from: string, to: string) => copyFile(from, to, constants.COPYFILE_FICLONE);
