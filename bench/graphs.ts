import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { decodeImage } from "../core/image/decode";
import { toPixelTensor } from "../core/image/preprocess";
import { openPack } from "../core/pack/open";
import type { Role } from "../core/pack/roles";
import { Engine, type Tensors } from "../core/runtime/engine";
import { DEMO_IMAGE } from "../cli/demo";
import { median } from "./stats";

/**
 * A tracked video frame with 1 and 4 objects, graph by graph in onnxruntime-node through core's engine (the video
 * predictor does not run the memory graphs yet): the backbone, then per object memory attention over a fixed
 * memory bank (1 conditioning + 6 recent memory frames, 16 object pointers) and the video tracker decoder, then one
 * memory encoder call for all objects. The same sequence as models/export/sam3_export/peers.py; one JSON line.
 */
const { values } = parseArgs({
  options: { pack: { type: "string" }, runs: { type: "string" }, threads: { type: "string" }, image: { type: "string" } },
});
const runs = Number(values.runs ?? 2);
const OBJECTS = [1, 4];
const MEMORY_OFFSETS = [0, 6, 5, 4, 3, 2, 1];
const POINTER_OFFSETS = [10, ...Array.from({ length: 15 }, (_, i) => i + 1)];

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
const i64 = (xs: number[]) => new ort.Tensor("int64", BigInt64Array.from(xs, BigInt), [xs.length]);

/** The first item along axis 0, repeated `n` times (the memory bank from one memory frame). */
function repeatFirst(t: ort.Tensor, n: number): ort.Tensor {
  const item = (t.data as Float32Array).subarray(0, t.size / (t.dims[0] as number));
  const out = new Float32Array(item.length * n);
  for (let i = 0; i < n; i++) out.set(item, i * item.length);
  return f32(out, [n, ...t.dims.slice(1)].map(Number));
}

/** Token 0's object pointer [1,C] of the decoder's [1,1,4,C]. */
function tokenZero(pointers: ort.Tensor): ort.Tensor {
  const c = pointers.dims[3] as number;
  return f32((pointers.data as Float32Array).slice(0, c), [1, c]);
}

/** Low-res mask logits [1,1,h,w] (token 0 of [1,1,4,h,w]) of each object -> [K,1,S,S], nearest (glue, not timed). */
function highResMasks(masks: ort.Tensor[], size: number): ort.Tensor {
  const [h, w] = masks[0].dims.slice(-2).map(Number);
  const out = new Float32Array(masks.length * size * size);
  masks.forEach((m, k) => {
    const src = m.data as Float32Array;
    for (let y = 0; y < size; y++) {
      const row = Math.floor((y * h) / size) * w;
      for (let x = 0; x < size; x++) out[k * size * size + y * size + x] = src[row + Math.floor((x * w) / size)];
    }
  });
  return f32(out, [masks.length, 1, size, size]);
}

async function main() {
  if (!values.pack) throw new Error("usage: node dist/bench/graphs.js --pack DIR [--runs N] [--threads N] [--image FILE]");
  const pack = openPack(values.pack);
  const engine = new Engine(pack, { intraOpThreads: values.threads ? Number(values.threads) : undefined });
  const run = (role: Role, feeds: Tensors) => engine.run(role, feeds);
  const { imageSize, normalize } = pack.manifest;
  const pixels = toPixelTensor(await decodeImage(values.image ?? DEMO_IMAGE), imageSize, normalize);
  const click = { points: f32(Float32Array.of(imageSize / 4, imageSize / 3), [1, 1, 1, 2]), labels: new ort.Tensor("int64", BigInt64Array.of(1n), [1, 1, 1]) };
  // a tracked frame has no prompt: one padding point (label -1), as HF feeds it
  const tracked = { points: f32(new Float32Array(2), [1, 1, 1, 2]), labels: new ort.Tensor("int64", BigInt64Array.of(-1n), [1, 1, 1]) };
  const flag = (v: boolean) => new ort.Tensor("bool", Uint8Array.of(v ? 1 : 0), [1]);

  // warm-up (session creation included), which also builds the memory bank of the clicked object
  const b0 = await run("backbone", { pixels });
  const d0 = await run("videoTrackerDecoder", { emb0: b0.emb0, emb1: b0.emb1, emb2: b0.emb2, ...click });
  const m0 = await run("memoryEncoder", { trackerFeat2: b0.trackerFeat2, highResMasks: highResMasks([d0.masks], imageSize), objectScore: d0.objectScore, maskFromPrompt: flag(true) });
  const bank: Tensors = {
    memoryFeatures: repeatFirst(m0.memoryFeatures, MEMORY_OFFSETS.length),
    memoryPosEnc: repeatFirst(m0.memoryPosEnc, MEMORY_OFFSETS.length),
    memoryOffsets: i64(MEMORY_OFFSETS),
    objectPointers: repeatFirst(tokenZero(d0.objectPointers), POINTER_OFFSETS.length),
    pointerOffsets: i64(POINTER_OFFSETS),
    pointerMaxOffset: f32(Float32Array.of(15), [1]),
  };

  const rows: Record<string, number>[] = [];
  for (let r = -1; r < runs; r++) {
    const ms: Record<string, number> = {};
    const timed = async (key: string, role: Role, feeds: Tensors) => {
      const start = performance.now();
      const out = await run(role, feeds);
      ms[key] = (ms[key] ?? 0) + performance.now() - start;
      return out;
    };
    const b = await timed("backbone", "backbone", { pixels });
    for (const k of OBJECTS) {
      const lows: ort.Tensor[] = [];
      const scores: number[] = [];
      for (let o = 0; o < k; o++) {
        const e = await timed(`memoryAttention x${k}`, "memoryAttention", { trackerFeat2: b.trackerFeat2, trackerPos2: b.trackerPos2, ...bank });
        const d = await timed(`videoTrackerDecoder x${k}`, "videoTrackerDecoder", { emb0: b.emb0, emb1: b.emb1, emb2: e.emb2, ...tracked });
        lows.push(d.masks);
        scores.push((d.objectScore.data as Float32Array)[0]);
      }
      await timed(`memoryEncoder x${k}`, "memoryEncoder", { trackerFeat2: b.trackerFeat2, highResMasks: highResMasks(lows, imageSize), objectScore: f32(Float32Array.from(scores), [k, 1, 1]), maskFromPrompt: flag(false) });
    }
    if (r < 0) continue;
    rows.push(ms);
    console.error(`  onnxruntime-node run ${r + 1}/${runs}: backbone ${ms.backbone.toFixed(0)} ms`);
  }
  await engine.close();
  const med = (key: string) => Number(median(rows.map((m) => m[key])).toFixed(1));
  const stages = Object.fromEntries(Object.keys(rows[0]).map((k) => [k, med(k)]));
  const scenarios = Object.fromEntries(
    OBJECTS.map((k) => [`video${k}`, Number(median(rows.map((m) => m.backbone + m[`memoryAttention x${k}`] + m[`videoTrackerDecoder x${k}`] + m[`memoryEncoder x${k}`])).toFixed(1))]),
  );
  const peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(JSON.stringify({ runtime: "onnxruntime-node", threads: Number(values.threads ?? 0), runs, imageSize, stages, scenarios, peakRssMB }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
