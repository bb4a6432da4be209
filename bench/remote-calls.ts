import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { boxPromptTensors } from "../core/detector";
import { decodeImage } from "../core/image/decode";
import { toPixelTensor } from "../core/image/preprocess";
import { openPack, type ModelPack } from "../core/pack/open";
import type { Role } from "../core/pack/roles";
import { Engine, type GraphEngine, type Tensors } from "../core/runtime/engine";
import { TextTokenizer } from "../core/text/tokenizer";
import { pointPromptTensors } from "../core/tracker";
import { parseEngine, type TritonTarget } from "../core/triton/engine-url";
import { TritonEngine } from "../core/triton/engine";
import { tritonModelName } from "../core/triton/model-names";

const bytes = (tensors: Tensors) => Object.values(tensors).reduce((a, t) => a + (t.data as ArrayBufferView).byteLength, 0);
const mb = (n: number) => (n / 2 ** 20).toFixed(2);

/** The image graphs' calls of a text prompt, a click, a box and a refinement on one image, with real feeds. */
export async function imageCalls(pack: ModelPack, local: GraphEngine, image: string): Promise<[Role, Tensors][]> {
  const rgb = await decodeImage(image);
  const { imageSize, normalize, tokenizer } = pack.manifest;
  const pixels = toPixelTensor(rgb, imageSize, normalize);
  const vision = await local.run("backbone", { pixels });
  const tokens = new TextTokenizer(join(pack.dir, tokenizer.file), tokenizer.contextLength).encode("red circle");
  const text = { inputIds: new ort.Tensor("int64", tokens.inputIds, [1, tokens.inputIds.length]), attentionMask: new ort.Tensor("int64", tokens.attentionMask, [1, tokens.attentionMask.length]) };
  const { textFeatures } = await local.run("textEncoder", text);
  const detector = { feat0: vision.feat0, feat1: vision.feat1, feat2: vision.feat2, pos2: vision.pos2, textFeatures, textMask: text.attentionMask };
  const embeddings = { emb0: vision.emb0, emb1: vision.emb1, emb2: vision.emb2 };
  const click = pointPromptTensors({ points: [{ x: rgb.width / 4, y: rgb.height / 3 }], image: rgb, imageSize });
  const first = await local.run("trackerDecoder", { ...embeddings, ...click });
  const size = first.masks.dims.at(-1)!;
  const maskInput = new ort.Tensor("float32", (first.masks.data as Float32Array).slice(0, size * size), [1, 1, size, size]);
  return [
    ["backbone", { pixels }],
    ["textEncoder", text],
    ["detectorDecoder", detector],
    ["detectorDecoderBoxes", { ...detector, ...boxPromptTensors([{ box: [80, 90, 240, 250] }], rgb.width, rgb.height) }],
    ["trackerDecoder", { ...embeddings, ...click }],
    ["trackerDecoderMask", { ...embeddings, ...click, maskInput }],
  ];
}

/** The server's own time for a model's calls so far (queue + compute), from Triton's statistics extension. */
async function serverNanoseconds(target: TritonTarget, model: string): Promise<{ count: number; ns: number }> {
  const answer = await fetch(`${target.base}/v2/models/${encodeURIComponent(model)}/stats`);
  const stats = (await answer.json()) as { model_stats?: { inference_stats: { success: { count: number; ns: number } } }[] };
  const success = stats.model_stats?.[0]?.inference_stats.success;
  return { count: Number(success?.count ?? 0), ns: Number(success?.ns ?? 0) };
}

/**
 * Each image graph call locally and through the Triton server, with the server's own time per call: what is left is
 * the transport (serialisation, the network, the binary tensor extension's copies).
 */
export async function benchRemoteCalls(model: string, engine: string, image: string, runs: number): Promise<void> {
  const pack = openPack(model);
  const target = parseEngine(engine)!;
  const local = new Engine(pack);
  const remote = new TritonEngine(pack, target);
  try {
    await remote.ready();
    const calls = await imageCalls(pack, local, image);
    console.log(`\n${model}: each graph call in this process vs on Triton at ${target.label} (HTTP, binary tensors), mean of ${runs} after a warm-up, ms`);
    console.log(`  ${"graph".padEnd(22)} ${"local".padStart(8)} ${"remote".padStart(8)} ${"server".padStart(8)} ${"transport".padStart(9)}  ratio  MB sent / received`);
    for (const [role, feeds] of calls) {
      const name = tritonModelName(pack.manifest.name, pack.manifest.roles[role]!.file);
      let before = { count: 0, ns: 0 };
      const time = async (engine: GraphEngine) => {
        let out = await engine.run(role, feeds);
        if (engine === remote) before = await serverNanoseconds(target, name);
        const start = performance.now();
        for (let i = 0; i < runs; i++) out = await engine.run(role, feeds);
        return { ms: (performance.now() - start) / runs, out };
      };
      const here = await time(local);
      const there = await time(remote);
      const after = await serverNanoseconds(target, name);
      const server = (after.ns - before.ns) / Math.max(1, after.count - before.count) / 1e6;
      const cells = [here.ms, there.ms, server, there.ms - server].map((v, i) => v.toFixed(1).padStart(i === 3 ? 9 : 8));
      console.log(`  ${role.padEnd(22)} ${cells.join(" ")}  ${(there.ms / here.ms).toFixed(2).padStart(5)}  ${mb(bytes(feeds))} / ${mb(bytes(there.out))}`);
    }
  } finally {
    await Promise.all([local.close(), remote.close()]);
  }
}
