import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { openPack } from "../core/pack/open";
import { Engine } from "../core/runtime/engine";
import { parseEngine } from "../core/triton/engine-url";
import { toWire } from "../core/triton/engine";
import { KServeClient, type WireTensor } from "../core/triton/kserve-http";
import { tritonModelName } from "../core/triton/model-names";
import { imageCalls } from "./remote-calls";
import { median } from "./stats";

type Infer = (inputs: WireTensor[], outputs: string[]) => Promise<unknown>;

/** The binary tensor extension through Node's fetch (undici): the same bytes as the engine's node:http client. */
function fetchInfer(base: string, model: string): Infer {
  return async (inputs, outputs) => {
    const header = Buffer.from(
      JSON.stringify({
        inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: t.data.byteLength } })),
        outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
      }),
    );
    const answer = await fetch(`${base}/v2/models/${encodeURIComponent(model)}/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
      body: Buffer.concat([header, ...inputs.map((t) => t.data)]),
    });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    return answer.arrayBuffer();
  };
}

/** KServe v2 over gRPC with raw tensor contents, through grpc-js. */
function grpcInfer(address: string, model: string): { infer: Infer; close: () => void } {
  const definition = protoLoader.loadSync(join(__dirname, "..", "..", "bench", "kserve-infer.proto"), { keepCase: true, longs: String });
  const Service = (grpc.loadPackageDefinition(definition).inference as grpc.GrpcObject).GRPCInferenceService as grpc.ServiceClientConstructor;
  // grpc-js refuses messages over 4 MB unless told: the embeddings alone are larger at 1008
  const client = new Service(address, grpc.credentials.createInsecure(), { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 });
  const infer: Infer = (inputs, outputs) =>
    new Promise((resolve, reject) =>
      client.ModelInfer(
        { model_name: model, inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })), outputs: outputs.map((name) => ({ name })), raw_input_contents: inputs.map((t) => t.data) },
        { deadline: Date.now() + 120_000 },
        (error: grpc.ServiceError | null, answer: unknown) => (error ? reject(new Error(error.details)) : resolve(answer)),
      ),
    );
  return { infer, close: () => client.close() };
}

/**
 * The tracker decoder (the 288x288 mask graph at 1008) over each transport a Node client has for KServe v2: what
 * the engine's choice of HTTP with binary tensors on node:http rests on. gRPC listens on `grpcAddress`
 * (Triton's default: the HTTP port + 1).
 */
export async function benchTransports(model: string, engine: string, grpcAddress: string | undefined, image: string, runs: number): Promise<void> {
  const pack = openPack(model);
  const target = parseEngine(engine)!;
  const spec = pack.manifest.roles.trackerDecoder!;
  const name = tritonModelName(pack.manifest.name, spec.file);
  const local = new Engine(pack);
  const [, feeds] = (await imageCalls(pack, local, image)).find(([role]) => role === "trackerDecoder")!;
  const inputs = Object.entries(feeds).map(([key, tensor]) => toWire(spec.inputs[key], tensor));
  const outputs = Object.values(spec.outputs);
  const [host, port] = [target.label.slice(0, target.label.lastIndexOf(":")), Number(target.label.slice(target.label.lastIndexOf(":") + 1))];
  const http = new KServeClient(target);
  const grpcClient = grpcInfer(grpcAddress ?? `${host}:${port + 1}`, name);
  const transports: [string, Infer][] = [
    ["local onnxruntime (no transport)", () => local.run("trackerDecoder", feeds)],
    ["HTTP binary tensors, node:http (sam3)", (i, o) => http.infer(name, i, o)],
    ["HTTP binary tensors, fetch", fetchInfer(target.base, name)],
    ["gRPC raw contents, grpc-js", grpcClient.infer],
  ];
  const masks = (await local.run("trackerDecoder", feeds)).masks.dims;
  const bytes = inputs.reduce((a, t) => a + t.data.byteLength, 0);
  console.log(`\n${model}: the tracker decoder (${(bytes / 2 ** 20).toFixed(2)} MB in, masks [${masks.join("x")}] out) over each transport to ${target.label}, median of ${runs}, ms`);
  try {
    for (const [label, infer] of transports) {
      await infer(inputs, outputs);
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        await infer(inputs, outputs);
        ms.push(performance.now() - start);
      }
      const start = performance.now();
      await Promise.all(Array.from({ length: 20 }, () => infer(inputs, outputs)));
      console.log(`  ${label.padEnd(40)} one call ${median(ms).toFixed(1).padStart(7)}  | 20 at once ${(performance.now() - start).toFixed(0).padStart(6)}`);
    }
  } finally {
    http.close();
    grpcClient.close();
    await local.close();
  }
}
