import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { Sam3Error } from "../errors";
import { readOnnxSignature, type TensorType } from "../pack/onnx-signature";
import type { ModelPack } from "../pack/open";
import { ROLE_NAMES, type Role } from "../pack/roles";
import { castTo, toFloat32, type DeviceReport, type GraphEngine, type RuntimeOptions, type Tensors } from "../runtime/engine";
import type { TritonTarget } from "./engine-url";
import { KServeClient, type ModelMetadata, type TensorMetadata, type WireTensor } from "./kserve-http";
import { tritonModelName } from "./model-names";

/** onnxruntime's element types and KServe v2's datatypes, both ways. */
const DATATYPES: Record<string, string> = { float32: "FP32", float16: "FP16", int64: "INT64", int32: "INT32", bool: "BOOL", uint8: "UINT8" };
const ORT_TYPES = Object.fromEntries(Object.entries(DATATYPES).map(([ort, kserve]) => [kserve, ort]));
const ARRAYS: Record<string, new (buffer: ArrayBuffer) => ort.Tensor["data"]> = {
  FP32: Float32Array, FP16: Uint16Array, INT64: BigInt64Array, INT32: Int32Array, BOOL: Uint8Array, UINT8: Uint8Array,
};

/**
 * A pack's graphs on a Triton server (KServe v2 over HTTP): the same contract as the local Engine, so prompts,
 * tokenizer, video sessions and memory banks stay in this process and only graph calls travel. Calls run
 * concurrently (the server queues and batches them); a graph's tensors are checked against the server's model
 * metadata once, before the first call.
 */
export class TritonEngine implements GraphEngine {
  readonly device: DeviceReport;
  private readonly client: KServeClient;
  private checked?: Promise<void>;
  /** Each graph's input datatypes as the server declares them (what feeds are cast to). */
  private readonly inputTypes = new Map<string, string>();
  /** Each role's Triton model, named once (every graph call asks). */
  private readonly modelNames = new Map<Role, string>();
  private closed = false;

  constructor(readonly pack: ModelPack, private readonly target: TritonTarget, options: RuntimeOptions = {}) {
    const requested = options.device ?? "cpu";
    this.device = { requested, active: requested, remote: target.label };
    if (requested !== "cpu") options.onWarning?.(`device ${requested} is ignored: the Triton server at ${target.label} runs the graphs on the devices its model configuration names`);
    this.client = new KServeClient(target);
  }

  has(role: Role): boolean {
    return this.pack.manifest.roles[role] !== undefined;
  }

  /** The server is ready and serves every graph of the pack with the manifest's tensors; checked once. */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new Sam3Error("CLOSED", "the model is closed"));
    this.checked ??= this.check();
    this.checked.catch(() => (this.checked = undefined));
    return this.checked;
  }

  async run(role: Role, feeds: Tensors): Promise<Tensors> {
    await this.ready();
    const spec = this.graph(role);
    const model = this.modelName(role);
    const inputs: WireTensor[] = [];
    for (const [key, tensor] of Object.entries(feeds)) {
      const name = spec.inputs[key];
      if (name) inputs.push(toWire(name, castTo(tensor, ORT_TYPES[this.inputTypes.get(`${model}/${name}`) ?? ""])));
    }
    const answer = await this.client.infer(model, inputs, Object.values(spec.outputs));
    if (this.closed) throw new Sam3Error("CLOSED", "the model was closed while a request was running");
    const byName = new Map(answer.map((t) => [t.name, t]));
    return Object.fromEntries(
      Object.entries(spec.outputs).map(([key, name]) => {
        const tensor = byName.get(name);
        if (!tensor) throw new Sam3Error("REMOTE_FAILED", `the Triton server at ${this.target.label} left out ${name} of ${model}`);
        return [key, toFloat32(fromWire(tensor))];
      }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.close();
  }

  private async check(): Promise<void> {
    await this.client.ready();
    const roles = ROLE_NAMES.filter((role) => this.has(role));
    const models = new Map(roles.map((role) => [this.modelName(role), role]));
    await Promise.all([...models].map(async ([model, role]) => this.checkModel(role, model, await this.client.metadata(model))));
  }

  /** Every tensor the manifest names is there, with the local graph's datatype and a compatible shape. */
  private checkModel(role: Role, model: string, metadata: ModelMetadata) {
    const spec = this.graph(role);
    const local = readOnnxSignature(join(this.pack.dir, spec.file)).tensors;
    const wanted = (names: Record<string, string>, served: TensorMetadata[], kind: string) => {
      for (const name of Object.values(names)) {
        const tensor = served.find((t) => t.name === name);
        const why = !tensor ? `has no ${kind} ${name}` : mismatch(local[name], tensor);
        if (why) throw new Sam3Error("REMOTE_MODEL_MISSING", `the Triton model ${model} at ${this.target.label} ${why}: it does not serve this pack's ${spec.file} (write its models with: sam3 models triton-repo)`);
        if (kind === "input") this.inputTypes.set(`${model}/${name}`, tensor!.datatype);
      }
    };
    wanted(spec.inputs, metadata.inputs, "input");
    wanted(spec.outputs, metadata.outputs, "output");
  }

  private graph(role: Role) {
    const spec = this.pack.manifest.roles[role];
    if (!spec) throw new Sam3Error("PACK_INVALID", `model pack ${this.pack.manifest.name} has no ${role} graph`);
    return spec;
  }

  private modelName(role: Role): string {
    let name = this.modelNames.get(role);
    if (!name) this.modelNames.set(role, (name = tritonModelName(this.pack.manifest.name, this.graph(role).file)));
    return name;
  }
}

/**
 * Why the served tensor is not the local graph's: another datatype, or a fixed size that differs (the server's
 * shape may add a leading batch dimension, and says -1 where it takes any size).
 */
function mismatch(local: TensorType | undefined, served: TensorMetadata): string | undefined {
  if (!local) return undefined;
  if (local.type !== "unknown" && DATATYPES[local.type] !== served.datatype) return `gives ${served.name} as ${served.datatype.slice(0, 12)}, the graph as ${local.type}`;
  if (!local.dims) return undefined;
  const shape = served.shape.length === local.dims.length + 1 ? served.shape.slice(1) : served.shape;
  const fits = shape.length === local.dims.length && local.dims.every((d, i) => typeof d !== "number" || shape[i] === -1 || shape[i] === d);
  return fits ? undefined : `gives ${served.name} the shape [${served.shape.join(",")}], the graph [${local.dims.join(",")}]`;
}

export function toWire(name: string, tensor: ort.Tensor): WireTensor {
  const datatype = DATATYPES[tensor.type];
  if (!datatype) throw new Sam3Error("INTERNAL", `a ${tensor.type} tensor cannot be sent to a Triton server`);
  const data = tensor.data as ArrayBufferView;
  return { name, datatype, shape: [...tensor.dims], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function fromWire(t: WireTensor): ort.Tensor {
  const data = new ARRAYS[t.datatype](t.data.buffer as ArrayBuffer);
  return new ort.Tensor(ORT_TYPES[t.datatype] as "float32", data as Float32Array, t.shape);
}
