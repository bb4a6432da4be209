import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterEach, describe, expect, it } from "vitest";
import { openPack } from "../../core/pack/open";
import { readOnnxSignature } from "../../core/pack/onnx-signature";
import { ROLE_NAMES } from "../../core/pack/roles";
import { Sam3 } from "../../core/sam3";
import { parseEngine } from "../../core/triton/engine-url";
import { KServeClient } from "../../core/triton/kserve-http";
import { tritonModelName } from "../../core/triton/model-names";
import { rejection } from "../support/errors";

/**
 * The Triton client against servers that misbehave: down, slow, flaky, lying about sizes, serving other graphs,
 * quoting their own paths. (A real Triton server is tested in test/integration/triton.test.ts.)
 */
type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r).closeAllConnections())));
});

async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => handler(req, res, Buffer.concat(chunks)));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `triton://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const client = (url: string) => new KServeClient(parseEngine(url)!);
const one = { name: "x", datatype: "FP32", shape: [1], data: new Uint8Array(4) };

/** A binary tensor answer: the JSON header, then the bytes. */
function answer(res: ServerResponse, outputs: object[], bytes: Buffer) {
  const header = Buffer.from(JSON.stringify({ model_name: "m", outputs }));
  res.writeHead(200, { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) }).end(Buffer.concat([header, bytes]));
}

describe("the Triton client against a misbehaving server", () => {
  it("nothing listening: REMOTE_UNAVAILABLE after its retries, naming host and port only", async () => {
    const url = await serve(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    const e = await rejection(client(`${url}?retries=2`).infer("m", [one], ["y"]));
    expect(e.code).toBe("REMOTE_UNAVAILABLE");
    expect(e.message).toMatch(/^the Triton server at 127\.0\.0\.1:\d+ does not answer \(ECONNREFUSED\) after 3 tries$/);
  });

  it("a server that answers 503 for a moment is tried again, with backoff", async () => {
    let calls = 0;
    const url = await serve((_req, res) => (++calls < 3 ? res.writeHead(503).end() : answer(res, [{ name: "y", datatype: "FP32", shape: [2], parameters: { binary_data_size: 8 } }], Buffer.from(new Float32Array([1, 2]).buffer))));
    const [y] = await client(url).infer("m", [one], ["y"]);
    expect(calls).toBe(3);
    expect(Array.from(new Float32Array(y.data.buffer))).toEqual([1, 2]);
  });

  it("a server that hangs: REMOTE_UNAVAILABLE once each try ran out of time", async () => {
    const url = await serve(() => undefined);
    const e = await rejection(client(`${url}?timeout=0.2&retries=1`).ready());
    expect(e.code).toBe("REMOTE_UNAVAILABLE");
    expect(e.message).toMatch(/no answer within 0\.2 s\) after 2 tries/);
  });

  it("a connection cut mid-answer is a transport failure, retried", async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      res.writeHead(200, { "content-length": "1000" }).write("{");
      res.socket!.destroy();
    });
    const e = await rejection(client(`${url}?retries=1`).metadata("m"));
    expect(e.code).toBe("REMOTE_UNAVAILABLE");
    expect(calls).toBe(2);
  });

  it("answers that lie about their tensors are REMOTE_FAILED, never read past their end", async () => {
    const lies: [string, (res: ServerResponse) => void][] = [
      ["the wrong size", (res) => answer(res, [{ name: "y", datatype: "FP32", shape: [4], parameters: { binary_data_size: 8 } }], Buffer.alloc(8))],
      ["bytes past the end", (res) => answer(res, [{ name: "y", datatype: "FP32", shape: [4], parameters: { binary_data_size: 16 } }], Buffer.alloc(8))],
      ["an unknown datatype", (res) => answer(res, [{ name: "y", datatype: "BYTES", shape: [1], parameters: { binary_data_size: 4 } }], Buffer.alloc(4))],
      ["a negative shape", (res) => answer(res, [{ name: "y", datatype: "FP32", shape: [-1], parameters: { binary_data_size: 4 } }], Buffer.alloc(4))],
      ["JSON data instead of binary", (res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ outputs: [{ name: "y", datatype: "FP32", shape: [1], data: [1] }] }))],
      ["no JSON at all", (res) => res.writeHead(200, { "inference-header-content-length": "5" }).end("\u0000\u0001garbage")],
      ["a header longer than the body", (res) => res.writeHead(200, { "inference-header-content-length": "99999" }).end("{}")],
    ];
    for (const [what, lie] of lies) {
      const url = await serve((_req, res) => lie(res));
      const e = await rejection(client(url).infer("m", [one], ["y"]));
      expect(e.code, what).toBe("REMOTE_FAILED");
      expect(e.message, what).toMatch(/gave a malformed answer for m: /);
    }
  });

  it("the server's error text is bounded and keeps its machine's paths to itself", async () => {
    const url = await serve((_req, res) => res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: `onnxruntime failed in /opt/models/secret/1/model.py line 9\n${"x".repeat(5000)}` })));
    const e = await rejection(client(url).infer("m", [one], ["y"]));
    expect(e.code).toBe("REMOTE_FAILED");
    expect(e.message).toBe("the Triton server at " + url.slice(9) + " refused m (HTTP 400): onnxruntime failed in [path] line 9");
  });

  it("a missing model is REMOTE_MODEL_MISSING, saying how to write the models", async () => {
    const url = await serve((_req, res) => res.writeHead(404).end(JSON.stringify({ error: "Request for unknown model: 'm' is not found" })));
    const e = await rejection(client(url).metadata("m"));
    expect(e.code).toBe("REMOTE_MODEL_MISSING");
    expect(e.message).toMatch(/does not serve m \(write its models with: sam3 models triton-repo\)/);
  });
});

describe("opening a pack on a server that serves other graphs", () => {
  const pack = openPack("sam3-tiny-336");
  const DATATYPES: Record<string, string> = { float32: "FP32", int64: "INT64", bool: "BOOL" };
  /** Metadata as Triton gives it for each graph of the pack, with `change` applied to one model's. */
  const metadataServer = (change: (model: string, meta: { inputs: any[]; outputs: any[] }) => void) =>
    serve((req, res) => {
      if (req.url === "/v2/health/ready") return res.writeHead(200).end();
      const role = ROLE_NAMES.find((r) => pack.manifest.roles[r] && req.url === `/v2/models/${tritonModelName(pack.manifest.name, pack.manifest.roles[r]!.file)}`);
      if (!role) return res.writeHead(404).end("{}");
      const signature = readOnnxSignature(join(pack.dir, pack.manifest.roles[role]!.file));
      const tensor = (name: string) => ({ name, datatype: DATATYPES[signature.tensors[name].type], shape: signature.tensors[name].dims!.map((d) => (typeof d === "number" ? d : -1)) });
      const meta = { inputs: signature.inputs.map(tensor), outputs: signature.outputs.map(tensor) };
      change(req.url!.slice(11), meta);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(meta));
    });

  it("opens when every graph's tensors match", async () => {
    const sam = await Sam3.open({ model: "sam3-tiny-336", engine: await metadataServer(() => undefined) });
    expect(sam.device.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    await sam.close();
  });

  it("refuses a graph with another datatype, a missing tensor or another fixed size, and loads nothing", async () => {
    const cases: [(model: string, meta: { inputs: any[]; outputs: any[] }) => void, RegExp][] = [
      [(m, meta) => m.endsWith("memory_encoder") && (meta.inputs.find((t) => t.name === "mask_from_prompt").datatype = "FP32"), /memory_encoder at .* gives mask_from_prompt as FP32, the graph as bool/],
      [(m, meta) => m.endsWith("-backbone") && meta.outputs.pop(), /backbone at .* has no output tracker_pos_2/],
      [(m, meta) => m.endsWith("-tracker_decoder") && (meta.inputs[0].shape = [1, 32, 9, 9]), /tracker_decoder at .* gives image_embeddings_0 the shape \[1,32,9,9\], the graph \[1,8,96,96\]/],
    ];
    for (const [change, message] of cases) {
      const before = Sam3.loadedModels();
      const e = await rejection(Sam3.open({ model: "sam3-tiny-336", engine: await metadataServer(change) }));
      expect(e.code).toBe("REMOTE_MODEL_MISSING");
      expect(e.message).toMatch(message);
      expect(e.message).toMatch(/it does not serve this pack's onnx\/\w+\.onnx \(write its models with: sam3 models triton-repo\)$/);
      expect(Sam3.loadedModels()).toBe(before);
    }
  });

  it("casts the feeds to the server's datatypes and reads its answers as float32", async () => {
    const url = await metadataServer(() => undefined);
    const sam = await Sam3.open({ model: "sam3-tiny-336", engine: url });
    const e = await rejection(sam.runGraph("textEncoder", { inputIds: new ort.Tensor("int64", new BigInt64Array(32), [1, 32]), attentionMask: new ort.Tensor("int64", new BigInt64Array(32), [1, 32]) }));
    // the metadata server has no infer route: the call reached the server with the right model name
    expect(e.code).toBe("REMOTE_MODEL_MISSING");
    expect(e.message).toMatch(/does not serve sam3-tiny-336-text_encoder/);
    await sam.close();
  });
});
