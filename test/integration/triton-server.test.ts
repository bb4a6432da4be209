import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { describeWithTriton, startTritonServer, tritonModelNames, type TritonServer } from "../support/triton-server";

const GRAPHS = join(__dirname, "..", "..", "models", "sam3-tiny-336", "onnx");

// written out here rather than generated, so the harness is checked apart from the repository writer
const TEXT_ENCODER = `name: "text_encoder"
backend: "onnxruntime"
max_batch_size: 8
input [
  { name: "input_ids" data_type: TYPE_INT64 dims: [ 32 ] },
  { name: "attention_mask" data_type: TYPE_INT64 dims: [ 32 ] }
]
output [
  { name: "text_features" data_type: TYPE_FP32 dims: [ -1, 64 ] }
]
dynamic_batching { max_queue_delay_microseconds: 1000 }
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

const MEMORY_ENCODER = `name: "memory_encoder"
backend: "onnxruntime"
max_batch_size: 0
input [
  { name: "tracker_feat_2" data_type: TYPE_FP32 dims: [ 1, 64, 24, 24 ] },
  { name: "high_res_masks" data_type: TYPE_FP32 dims: [ -1, 1, 336, 336 ] },
  { name: "object_score_logits" data_type: TYPE_FP32 dims: [ -1, 1, 1 ] },
  { name: "mask_from_prompt" data_type: TYPE_BOOL dims: [ 1 ] }
]
output [
  { name: "maskmem_features" data_type: TYPE_FP32 dims: [ -1, 64, -1, -1 ] },
  { name: "maskmem_pos_enc" data_type: TYPE_FP32 dims: [ -1, -1, -1, -1 ] }
]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

function writeModel(repository: string, name: string, config: string) {
  mkdirSync(join(repository, name, "1"), { recursive: true });
  writeFileSync(join(repository, name, "config.pbtxt"), config);
  cpSync(join(GRAPHS, `${name}.onnx`), join(repository, name, "1", "model.onnx"));
}

/** One KServe v2 inference over HTTP with the binary tensor extension: JSON header, then the raw tensors. */
async function inferBinary(url: string, model: string, inputs: Record<string, ort.Tensor>, output: string) {
  const raw = Object.values(inputs).map((t) => Buffer.from((t.data as BigInt64Array).buffer));
  const header = Buffer.from(
    JSON.stringify({
      inputs: Object.entries(inputs).map(([name, t], i) => ({
        name,
        shape: t.dims,
        datatype: "INT64",
        parameters: { binary_data_size: raw[i].length },
      })),
      outputs: [{ name: output, parameters: { binary_data: true } }],
    }),
  );
  const response = await fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": String(header.length) },
    body: Buffer.concat([header, ...raw]),
  });
  const body = Buffer.from(await response.arrayBuffer());
  expect(response.status, body.toString("utf8", 0, 500)).toBe(200);
  const jsonLength = Number(response.headers.get("Inference-Header-Content-Length"));
  const result = JSON.parse(body.toString("utf8", 0, jsonLength)) as { outputs: { name: string; datatype: string; shape: number[] }[] };
  expect(result.outputs.map((o) => [o.name, o.datatype])).toEqual([[output, "FP32"]]);
  // a fresh buffer: the slice's offset need not be a multiple of 4
  const data = new Float32Array(body.buffer.slice(body.byteOffset + jsonLength, body.byteOffset + body.length));
  return { shape: result.outputs[0].shape, data };
}

describeWithTriton("a real Triton server for the integration tests", () => {
  let repository: string;
  let server: TritonServer;

  beforeAll(async () => {
    repository = mkdtempSync(join(tmpdir(), "sam3-triton-repo-"));
    writeModel(repository, "text_encoder", TEXT_ENCODER);
    writeModel(repository, "memory_encoder", MEMORY_ENCODER);
    server = await startTritonServer(repository);
  });

  afterAll(async () => {
    await server?.stop();
    if (repository) rmSync(repository, { recursive: true, force: true });
  });

  test("is ready, with both models of the repository loaded", async () => {
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
    expect(await tritonModelNames(server.url)).toEqual(["memory_encoder", "text_encoder"]);
  });

  test("describes each model's tensors as its config declares them", async () => {
    const describe = async (model: string) => {
      const response = await fetch(`${server.url}/v2/models/${model}`);
      expect(response.status, server.log()).toBe(200);
      const metadata = (await response.json()) as Record<"inputs" | "outputs", { name: string; datatype: string; shape: number[] }[]>;
      return [...metadata.inputs, ...metadata.outputs].map((t) => `${t.name} ${t.datatype} [${t.shape}]`);
    };
    // a batching model's shapes lead with the batch dimension
    expect(await describe("text_encoder")).toEqual([
      "input_ids INT64 [-1,32]",
      "attention_mask INT64 [-1,32]",
      "text_features FP32 [-1,-1,64]",
    ]);
    expect(await describe("memory_encoder")).toEqual([
      "tracker_feat_2 FP32 [1,64,24,24]",
      "high_res_masks FP32 [-1,1,336,336]",
      "object_score_logits FP32 [-1,1,1]",
      "mask_from_prompt BOOL [1]",
      "maskmem_features FP32 [-1,64,-1,-1]",
      "maskmem_pos_enc FP32 [-1,-1,-1,-1]",
    ]);
  });

  test("answers an inference with exactly what onnxruntime-node computes locally", async () => {
    const ids = BigInt64Array.from({ length: 2 * 32 }, (_, i) => BigInt((i * 7919) % 1000));
    const mask = BigInt64Array.from({ length: 2 * 32 }, (_, i) => (i % 32 < 5 + (i >> 5) * 3 ? 1n : 0n));
    const inputs = { input_ids: new ort.Tensor("int64", ids, [2, 32]), attention_mask: new ort.Tensor("int64", mask, [2, 32]) };
    const session = await ort.InferenceSession.create(join(GRAPHS, "text_encoder.onnx"));
    const local = (await session.run(inputs)).text_features;
    await session.release();
    const remote = await inferBinary(server.url, "text_encoder", inputs, "text_features");
    expect(remote.shape).toEqual(local.dims);
    expect(remote.data).toEqual(local.data);
  });

  test("rejects a repository whose config Triton cannot parse, quoting the server log", async () => {
    const broken = mkdtempSync(join(tmpdir(), "sam3-triton-broken-"));
    try {
      writeModel(broken, "text_encoder", TEXT_ENCODER.replace("TYPE_FP32", "TYPE_NOPE"));
      await expect(startTritonServer(broken)).rejects.toThrow(/exited before it was ready; errors in its log:\n[^]*Unknown enumeration value of \W*TYPE_NOPE[^]*the end of its log/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  test("kill() stops it at once: its port refuses connections", async () => {
    await server.kill();
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(false)));
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
    });
    expect(refused).toBe(true);
  });
});
