import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { Sam3Error } from "../errors";
import type { ModelPack } from "../pack/open";
import { readExternalDataFiles } from "../pack/onnx-signature";
import type { Role } from "../pack/roles";
import { LIMITS } from "../limits";
import { fromFloat16Bits, toFloat16Bits } from "./float16";
import { DEVICE_HINTS, deviceUnavailableReason, parseDevice, type Device } from "./devices";
import { checkRange } from "./options";
import { SerialQueue } from "./serial-queue";

// onnxruntime's own error lines (a provider library that does not load, with its full path) only repeat the error a
// session throws, which the engine reports once in its words; its process-wide level is read at the first session,
// so it is set on load unless the host chose one
if (ort.env.logLevel === "warning") ort.env.logLevel = "fatal";

export interface RuntimeOptions {
  device?: Device;
  /** Where the graphs run: "local" (default, onnxruntime in this process) or a Triton server's URL (see triton/engine-url.ts). */
  engine?: string;
  /** Threads inside one operator (0 = onnxruntime's default: one per core). */
  intraOpThreads?: number;
  /** Threads across independent operators (0 = default). */
  interOpThreads?: number;
  /** Told once when a device falls back to CPU, so it is never silent. */
  onWarning?: (message: string) => void;
}

export type Tensors = Record<string, ort.Tensor>;

/** Thread counts are whole numbers up to LIMITS.threads (0 = onnxruntime's default): a huge one hangs the process. */
export function checkRuntimeOptions(o: RuntimeOptions): void {
  checkRange("intraOpThreads", o.intraOpThreads, 0, LIMITS.threads);
  checkRange("interOpThreads", o.interOpThreads, 0, LIMITS.threads);
  if (o.device !== undefined) parseDevice(String(o.device).slice(0, 40));
}

interface LoadedGraph {
  session: ort.InferenceSession;
  queue: SerialQueue;
  device: Device;
  inputTypes: Map<string, string>;
}

/** The device a role actually runs on, and why not the one asked for. */
export interface DeviceReport {
  requested: Device;
  active: Device;
  fallbackReason?: string;
  /** host:port of the Triton server the graphs run on; absent when they run in this process. */
  remote?: string;
}

/** What runs a pack's graphs: onnxruntime in this process (Engine) or a Triton server (triton/engine.ts). */
export interface GraphEngine {
  readonly pack: ModelPack;
  readonly device: DeviceReport;
  /** Runs one graph; feeds and results are keyed by logical names (see pack/roles.ts). */
  run(role: Role, feeds: Tensors): Promise<Tensors>;
  has(role: Role): boolean;
  /** Resolves once every graph can run (a remote server is up and serves them), else rejects with why. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * onnxruntime sessions of one model pack: created on first use, each behind its own queue, fed and read by the
 * logical tensor names of the pack's manifest.
 */
export class Engine implements GraphEngine {
  private readonly graphs = new Map<Role, Promise<LoadedGraph>>();
  private closed = false;
  readonly device: DeviceReport;

  constructor(readonly pack: ModelPack, private readonly options: RuntimeOptions = {}) {
    checkRuntimeOptions(options);
    const requested = options.device ?? "cpu";
    const reason = deviceUnavailableReason(requested);
    this.device = { requested, active: reason ? "cpu" : requested, fallbackReason: reason };
    if (reason) this.warnFallback(reason);
  }

  /** Runs one graph; feeds and results are keyed by logical names (see pack/roles.ts). */
  async run(role: Role, feeds: Tensors): Promise<Tensors> {
    const graph = await this.load(role);
    const spec = this.pack.manifest.roles[role]!;
    const named: Tensors = {};
    for (const [key, tensor] of Object.entries(feeds)) {
      const name = spec.inputs[key];
      if (name) named[name] = castTo(tensor, graph.inputTypes.get(name));
    }
    const outputNames = Object.values(spec.outputs);
    const results = await graph.queue.run(() => {
      if (this.closed) throw new Sam3Error("CLOSED", "the model was closed while a request was waiting");
      return graph.session.run(named, outputNames).catch((e: unknown) => {
        throw new Sam3Error("INTERNAL", `the ${role} graph of ${this.pack.manifest.name} failed: ${this.hidePaths(firstLine(e))}`, { cause: e });
      });
    });
    return Object.fromEntries(Object.entries(spec.outputs).map(([key, name]) => [key, toFloat32(results[name])]));
  }

  has(role: Role): boolean {
    return this.pack.manifest.roles[role] !== undefined;
  }

  /** Local sessions load on first use, so there is nothing to wait for. */
  async ready(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    const graphs = [...this.graphs.values()];
    this.graphs.clear();
    await Promise.all(
      graphs.map(async (g) => {
        const graph = await g.catch(() => undefined);
        if (graph) await graph.queue.run(() => graph.session.release());
      }),
    );
  }

  private load(role: Role): Promise<LoadedGraph> {
    if (this.closed) return Promise.reject(new Sam3Error("CLOSED", "the model is closed"));
    let graph = this.graphs.get(role);
    if (!graph) {
      graph = this.createGraph(role);
      graph.catch(() => this.graphs.delete(role));
      this.graphs.set(role, graph);
    }
    return graph;
  }

  private async createGraph(role: Role): Promise<LoadedGraph> {
    const spec = this.pack.manifest.roles[role];
    if (!spec) throw new Sam3Error("PACK_INVALID", `model pack ${this.pack.manifest.name} has no ${role} graph`);
    const file = join(this.pack.dir, spec.file);
    let weights: ort.InferenceSession.SessionOptions = {};
    const options = (device: Device) => ({ ...this.sessionOptions(device), ...weights });
    let device = this.device.active;
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, options(device)).catch(async (e: unknown) => {
        // by path onnxruntime maps the weights itself, but its constant folding resolves a folded tensor's weight file
        // against the working directory: only then are the files handed over in memory
        if (!/External data path/.test(firstLine(e))) throw e;
        weights = { externalData: await this.readWeights(file) };
        return ort.InferenceSession.create(file, options(device));
      });
    } catch (e) {
      if (device === "cpu") {
        throw new Sam3Error("PACK_INVALID", `role ${role} (${spec.file}): onnxruntime could not load it: ${this.hidePaths(firstLine(e))}`, { cause: e });
      }
      this.markFallback(`${device} failed for ${role}: ${firstLine(e)}`);
      device = "cpu";
      session = await ort.InferenceSession.create(file, options(device)).catch((e2: unknown) => {
        throw new Sam3Error("PACK_INVALID", `role ${role} (${spec.file}): onnxruntime could not load it: ${this.hidePaths(firstLine(e2))}`, { cause: e2 });
      });
    }
    const inputTypes = new Map(
      session.inputMetadata.map((m) => [m.name, m.isTensor ? String(m.type) : ""] as [string, string]),
    );
    return { session, queue: new SerialQueue(), device, inputTypes };
  }

  /** The graph's external weight files (every location checked inside the pack by pack/open.ts), read whole. */
  private readWeights(file: string): Promise<{ path: string; data: Buffer }[]> {
    return Promise.all(
      readExternalDataFiles(file).map(async (path) => ({
        path,
        data: await readFile(join(dirname(file), path)).catch((e: NodeJS.ErrnoException) => {
          throw new Sam3Error("PACK_INVALID", `model pack ${this.pack.manifest.name}: cannot read the weights file ${path} (${e.code ?? "unreadable"})`, { cause: e });
        }),
      })),
    );
  }

  private sessionOptions(device: Device): ort.InferenceSession.SessionOptions {
    return {
      executionProviders: device === "cpu" ? ["cpu"] : [device, "cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: this.options.intraOpThreads ?? 0,
      interOpNumThreads: this.options.interOpThreads ?? 0,
      // the vision encoders trigger a harmless shape-merge warning on load
      logSeverityLevel: 3,
    };
  }

  /** onnxruntime's messages quote file paths: name the pack instead of the server's folder. */
  private hidePaths(message: string): string {
    return message.split(this.pack.dir).join(this.pack.manifest.name);
  }

  private markFallback(reason: string) {
    if (this.device.fallbackReason) return;
    this.device.active = "cpu";
    this.device.fallbackReason = reason;
    this.warnFallback(reason);
  }

  private warnFallback(reason: string) {
    const hint = DEVICE_HINTS[this.device.requested];
    this.options.onWarning?.(`device ${this.device.requested} unavailable, running on cpu: ${reason}${hint ? ` (${hint})` : ""}`);
  }
}

/** The pipeline reads every float as float32, whatever precision the pack computes in. */
export function toFloat32(tensor: ort.Tensor | undefined): ort.Tensor {
  if (tensor?.type !== "float16") return tensor!;
  return new ort.Tensor("float32", fromFloat16Bits(new Uint16Array((tensor.data as ArrayBufferView).buffer, (tensor.data as ArrayBufferView).byteOffset, tensor.size)), tensor.dims);
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0];

/** Some exports take boolean masks where others take int64, or float16 (half-size packs): convert to what the graph declares. */
export function castTo(tensor: ort.Tensor, type: string | undefined): ort.Tensor {
  if (!type || tensor.type === type) return tensor;
  if (type === "float16" && tensor.type === "float32") return new ort.Tensor("float16", toFloat16Bits(tensor.data as Float32Array), tensor.dims);
  if (type === "bool") return new ort.Tensor("bool", Uint8Array.from(tensor.data as BigInt64Array, (v) => (v ? 1 : 0)), tensor.dims);
  if (type === "int64" && tensor.type === "bool") {
    return new ort.Tensor("int64", BigInt64Array.from(tensor.data as Uint8Array, (v) => BigInt(v)), tensor.dims);
  }
  if (type === "int32" && tensor.type === "int64") {
    return new ort.Tensor("int32", Int32Array.from(tensor.data as BigInt64Array, (v) => Number(v)), tensor.dims);
  }
  return tensor;
}
