import http from "node:http";
import https from "node:https";
import { Sam3Error } from "../errors";
import type { TritonTarget } from "./engine-url";

/** A tensor on the wire: KServe v2 datatype, shape and its raw little-endian, row-major bytes. */
export interface WireTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: Uint8Array;
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  /** -1 for a dynamic dimension. */
  shape: number[];
}

export interface ModelMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** Bytes per element of the datatypes SAM 3's graphs use. */
const DATATYPE_BYTES: Record<string, number> = { FP32: 4, FP16: 2, INT64: 8, INT32: 4, BOOL: 1, UINT8: 1 };

// a hostile or broken server cannot make the process buffer more than this
const MAX_METADATA_BYTES = 1 << 20;
const MAX_ANSWER_BYTES = 2 ** 30;
const MAX_ERROR_BYTES = 1 << 16;
const MAX_ERROR_TEXT = 200;
const BACKOFF_MS = 100;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A failure of the connection itself (nothing or half an answer came back): worth another try. */
class TransportError extends Error {}

/**
 * A client of one Triton server's KServe v2 HTTP endpoint with the binary tensor extension: keep-alive connections,
 * a time limit per try, and retries with backoff (every call here is free of side effects, so a retry is safe).
 */
export class KServeClient {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly target: TritonTarget) {
    this.transport = target.base.startsWith("https:") ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: 16 });
  }

  /** Resolves when the server says it is ready (GET /v2/health/ready). */
  async ready(): Promise<void> {
    const answer = await this.call("GET", "/v2/health/ready", [], {}, MAX_METADATA_BYTES);
    if (answer.status !== 200) throw new Sam3Error("REMOTE_UNAVAILABLE", `the Triton server at ${this.target.label} is not ready (HTTP ${answer.status})`);
  }

  async metadata(model: string): Promise<ModelMetadata> {
    const answer = await this.call("GET", `/v2/models/${encodeURIComponent(model)}`, [], {}, MAX_METADATA_BYTES);
    if (answer.status !== 200) throw this.modelError(model, answer);
    const json = this.parseJson(answer.body, model) as Partial<ModelMetadata>;
    const tensors = (list: unknown) => (Array.isArray(list) && list.every(isTensorMetadata) ? list : undefined);
    const inputs = tensors(json.inputs);
    const outputs = tensors(json.outputs);
    if (!inputs || !outputs) throw this.malformed(model, "its metadata lists no tensors");
    return { inputs, outputs };
  }

  /** Runs `model` on `inputs`, asking for `outputs` only, all as raw bytes. */
  async infer(model: string, inputs: WireTensor[], outputs: string[]): Promise<WireTensor[]> {
    const header = Buffer.from(
      JSON.stringify({
        inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: t.data.byteLength } })),
        outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
      }),
    );
    const headers = { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) };
    const answer = await this.call("POST", `/v2/models/${encodeURIComponent(model)}/infer`, [header, ...inputs.map((t) => t.data)], headers, MAX_ANSWER_BYTES);
    if (answer.status !== 200) throw this.modelError(model, answer);
    return this.readTensors(model, answer);
  }

  close(): void {
    this.agent.destroy();
  }

  /** The answer's JSON header, then each output's bytes in order, each copied so its typed array is aligned. */
  private readTensors(model: string, answer: Answer): WireTensor[] {
    const headerLength = Number(answer.headers["inference-header-content-length"] ?? answer.body.length);
    if (!Number.isInteger(headerLength) || headerLength < 0 || headerLength > answer.body.length) throw this.malformed(model, "its header length is wrong");
    const json = this.parseJson(answer.body.subarray(0, headerLength), model) as { outputs?: unknown };
    if (!Array.isArray(json.outputs)) throw this.malformed(model, "it lists no outputs");
    let offset = headerLength;
    return json.outputs.map((o: { name?: unknown; datatype?: unknown; shape?: unknown; parameters?: { binary_data_size?: unknown } }) => {
      const bytes = DATATYPE_BYTES[String(o.datatype)];
      const shape = o.shape;
      const size = o.parameters?.binary_data_size;
      if (typeof o.name !== "string" || !bytes || !isShape(shape, false) || typeof size !== "number") throw this.malformed(model, "an output is not a binary tensor");
      if (size !== shape.reduce((a, b) => a * b, bytes) || offset + size > answer.body.length) throw this.malformed(model, `output ${o.name.slice(0, 60)} has the wrong size`);
      const data = new Uint8Array(size);
      data.set(answer.body.subarray(offset, offset + size));
      offset += size;
      return { name: o.name, datatype: String(o.datatype), shape, data };
    });
  }

  private async call(method: string, path: string, body: Uint8Array[], headers: Record<string, string>, maxBytes: number): Promise<Answer> {
    let reason = "";
    for (let attempt = 0; attempt <= this.target.retries; attempt++) {
      if (attempt > 0) await sleep(BACKOFF_MS * 2 ** (attempt - 1) * (1 + Math.random()));
      try {
        const answer = await this.once(method, path, body, headers, maxBytes);
        // a gateway in front of the server, or a server still loading, may answer this for a moment
        if (![502, 503, 504].includes(answer.status) || attempt === this.target.retries) return answer;
        reason = `HTTP ${answer.status}`;
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
        reason = e.message;
      }
    }
    const tries = this.target.retries + 1;
    throw new Sam3Error("REMOTE_UNAVAILABLE", `the Triton server at ${this.target.label} does not answer (${reason}) after ${tries} ${tries === 1 ? "try" : "tries"}`);
  }

  private once(method: string, path: string, body: Uint8Array[], headers: Record<string, string>, maxBytes: number): Promise<Answer> {
    const length = body.reduce((a, b) => a + b.byteLength, 0);
    return new Promise((resolve, reject) => {
      const request = this.transport.request(`${this.target.base}${path}`, { method, agent: this.agent, headers: { ...headers, "content-length": String(length) } }, (response) => {
        const chunks: Buffer[] = [];
        let received = 0;
        response.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBytes) {
            request.destroy();
            reject(new Sam3Error("REMOTE_FAILED", `the Triton server at ${this.target.label} sent more than ${maxBytes} bytes`));
          } else chunks.push(chunk);
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on("error", (e) => reject(new TransportError(describe(e))));
        response.on("aborted", () => reject(new TransportError("the connection closed mid-answer")));
      });
      request.setTimeout(this.target.timeoutMs, () => request.destroy(new TransportError(`no answer within ${this.target.timeoutMs / 1000} s`)));
      request.on("error", (e) => reject(e instanceof TransportError ? e : new TransportError(describe(e))));
      for (const part of body) request.write(part);
      request.end();
    });
  }

  private modelError(model: string, answer: Answer): Sam3Error {
    const text = serverText(answer.body);
    if (answer.status === 404 || /unknown model|not found|is not ready|unavailable/i.test(text)) {
      return new Sam3Error("REMOTE_MODEL_MISSING", `the Triton server at ${this.target.label} does not serve ${model} (write its models with: sam3 models triton-repo)`);
    }
    if ([502, 503, 504].includes(answer.status)) return new Sam3Error("REMOTE_UNAVAILABLE", `the Triton server at ${this.target.label} is unavailable (HTTP ${answer.status})`);
    return new Sam3Error("REMOTE_FAILED", `the Triton server at ${this.target.label} refused ${model} (HTTP ${answer.status})${text ? `: ${text}` : ""}`);
  }

  private parseJson(bytes: Buffer, model: string): Record<string, unknown> {
    try {
      const value = JSON.parse(bytes.toString("utf8"));
      if (value && typeof value === "object") return value;
    } catch {
      // reported below
    }
    throw this.malformed(model, "it is not JSON");
  }

  private malformed(model: string, why: string): Sam3Error {
    return new Sam3Error("REMOTE_FAILED", `the Triton server at ${this.target.label} gave a malformed answer for ${model}: ${why}`);
  }
}

const isShape = (v: unknown, dynamic: boolean): v is number[] =>
  Array.isArray(v) && v.length <= 8 && v.every((d) => Number.isInteger(d) && d >= (dynamic ? -1 : 0));

function isTensorMetadata(v: unknown): v is TensorMetadata {
  const t = v as TensorMetadata;
  return !!t && typeof t.name === "string" && typeof t.datatype === "string" && isShape(t.shape, true);
}

/** The server's own error text, first line, without paths of its machine, bounded. */
function serverText(body: Buffer): string {
  let text = body.subarray(0, MAX_ERROR_BYTES).toString("utf8");
  try {
    text = String(JSON.parse(text).error ?? "");
  } catch {
    // not JSON: the raw text
  }
  return text.split("\n")[0].replace(/(^|[\s'"(=:])\/[^\s'")]+/g, "$1[path]").slice(0, MAX_ERROR_TEXT);
}

const describe = (e: Error & { code?: string }) => e.code ?? e.message.slice(0, 80);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
