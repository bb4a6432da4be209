import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { maskToPng } from "../core/export/mask-png";
import { maskToCocoRle } from "../core/masks/rle";
import { decodeImage } from "../core/image/decode";
import { parseDevice } from "../core/runtime/devices";
import { stageMilliseconds, timed, VIT_PASSES, type Timings } from "../core/runtime/timings";
import type { ImagePrompt } from "../core/prompts";
import { Sam3, type SegmentResult } from "../core/sam3";
import { BUNDLED_MODELS_DIR } from "../core/paths";
import { DEMO_IMAGE } from "../cli/demo";
import { writeOnnxCommunityTracker } from "./onnx-community-fixture";
import { compareOneClick, importTransformersJs, peersDir, PEER } from "./peer-transformers-js";
import { median } from "./stats";
import { benchRemoteCalls } from "./remote-calls";
import { benchTransports } from "./transports";
import { benchTrackers } from "./video-trackers";

/**
 * Prints median per-stage milliseconds and ViT passes of a text prompt, a click, and a text prompt + a click on one
 * image (the click reads the features the text prompt computed: one ViT pass with a backbone, two without); then one
 * click end to end beside transformers.js on an onnx-community layout (--peer-pack DIR, else one rewritten from the
 * tiny 1008 pack), and the video memory. With --engine URL the same requests also run on that Triton server, side by
 * side with the local numbers, then each graph call alone with the server's own time and the transport's, and the
 * tracker decoder over HTTP (node:http, fetch) and gRPC (--triton-grpc HOST:PORT, default the HTTP port + 1).
 */
const { values } = parseArgs({
  options: {
    model: { type: "string", multiple: true },
    device: { type: "string" },
    engine: { type: "string" },
    "triton-grpc": { type: "string" },
    runs: { type: "string" },
    image: { type: "string" },
    threads: { type: "string" },
    "no-video": { type: "boolean" },
    "peer-pack": { type: "string" },
    "no-peer": { type: "boolean" },
  },
});
const models = values.model ?? ["sam3-tiny-336", "sam3-tiny-1008"];
const runs = Number(values.runs ?? 5);
const image = values.image ?? DEMO_IMAGE;


async function exportTime(result: SegmentResult, timings: Timings) {
  await timed(timings, "encode", async () => {
    for (const o of result.objects) {
      maskToCocoRle(o.mask);
      await maskToPng(o.mask);
    }
  });
}

/** Adds a request's timings into a row's (stages and passes alike). */
function add(into: Timings, from: Timings) {
  for (const [stage, value] of Object.entries(from)) into[stage] = (into[stage] ?? 0) + value;
}

/** Median milliseconds per row and stage (with the row's total), as printed. */
type Medians = Record<string, Record<string, number>>;

async function bench(model: string, engine?: string): Promise<Medians> {
  const sam = await Sam3.open({
    model,
    device: values.device && !engine ? parseDevice(values.device) : undefined,
    engine,
    intraOpThreads: values.threads ? Number(values.threads) : undefined,
    featureCacheImages: 1,
    onWarning: (m) => console.log(`  warning: ${m}`),
  });
  const rows: Record<string, Timings[]> = { "text prompt": [], "click prompt": [], "text + click": [] };
  try {
    for (let run = -1; run < runs; run++) {
      // run -1 warms up: session creation is not part of a request
      const decodeTime: Timings = {};
      const decoded = await timed(decodeTime, "decode", () => decodeImage(image));
      // a new cache key per request (the same pixels): every request pays for the image encoders but the click
      // of "text + click", which reads the features of the text prompt on its image
      const fresh = (tag: string) => ({ ...decoded, key: `${decoded.key}:${run}:${tag}` });
      const byText = (tag: string) => ({ text: `red circle ${run} ${tag}` });
      const click = { points: [{ x: decoded.width / 4, y: decoded.height / 3 }] };
      const request = async (rgb: typeof decoded, prompt: ImagePrompt, into: Timings) => {
        const result = await sam.segment(rgb, prompt, { threshold: 0, maxObjects: 3 });
        add(into, result.timings);
        await exportTime(result, into);
      };
      const row = async (name: string, ...prompts: ImagePrompt[]) => {
        const timings: Timings = { ...decodeTime };
        const rgb = fresh(name);
        for (const prompt of prompts) await request(rgb, prompt, timings);
        if (run >= 0) rows[name].push(timings);
      };
      await row("text prompt", byText("text"));
      await row("click prompt", click);
      await row("text + click", byText("both"), click);
    }
  } finally {
    await sam.close();
  }
  console.log(`\n${model} on ${sam.device.remote ? `Triton ${sam.device.remote}` : sam.device.active}${sam.device.fallbackReason ? ` (asked ${sam.device.requested})` : ""}, ${image}, median of ${runs} runs, ms`);
  const medians: Medians = {};
  for (const [name, list] of Object.entries(rows)) {
    const row = (medians[name] = Object.fromEntries(stageMilliseconds(list[0]).map(([s]) => [s, median(list.map((t) => t[s] ?? 0))])));
    row.total = median(list.map((t) => stageMilliseconds(t).reduce((a, [, ms]) => a + ms, 0)));
    const cells = Object.entries(row).filter(([s]) => s !== "total").map(([s, ms]) => `${s} ${ms.toFixed(1)}`);
    console.log(`  ${name.padEnd(13)} ${cells.join("  ")}  | total ${row.total.toFixed(1)}  | ViT passes ${median(list.map((t) => t[VIT_PASSES]))}`);
  }
  return medians;
}

/** Each stage's time through the remote engine over its time here (decoding, prompts and export stay here). */
function compareEngines(model: string, local: Medians, remote: Medians) {
  console.log(`
${model}: remote / local per stage, both measured in this run`);
  for (const [name, row] of Object.entries(local)) {
    console.log(`  ${name.padEnd(13)} ${Object.keys(row).map((s) => `${s} ${((remote[name]?.[s] ?? 0) / row[s]).toFixed(2)}`).join("  ")}`);
  }
}

/** transformers.js is installed on demand outside the repo; offline, the comparison is skipped with its reason. */
async function peer() {
  const tjs = await importTransformersJs().catch((e: Error) => {
    console.log(`\none click vs ${PEER.name} ${PEER.version}: skipped, ${e.message} (peer folder ${peersDir()}, SAM3_BENCH_PEERS)`);
  });
  if (!tjs) return;
  // without --peer-pack the layout is rewritten from the bundled pack in TypeScript: no Python at bench time
  const scratch = values["peer-pack"] ? undefined : mkdtempSync(join(tmpdir(), "sam3-bench-peer-"));
  try {
    const pack = values["peer-pack"] ? resolve(values["peer-pack"]) : writeOnnxCommunityTracker(join(BUNDLED_MODELS_DIR, "sam3-tiny-1008"), scratch!);
    await compareOneClick(tjs, pack, resolve(image), runs, values.threads ? Number(values.threads) : undefined);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** Video memory must not grow with length: each clip is tracked in a fresh process so their numbers are comparable. */
function videoMemory() {
  console.log("\nvideo tracking memory, sam3-tiny-336, 640x480, text concept + one clicked object, frame cache 32 MiB (fresh process each):");
  for (const frames of [30, 600]) {
    const line = execFileSync(process.execPath, [join(__dirname, "video-memory.js"), String(frames)], { encoding: "utf8" });
    const r = JSON.parse(line);
    console.log(
      `  ${String(frames).padStart(4)} frames: RSS ${r.baselineMB} MB before, peak ${r.peakMB} MB (growth ${r.growthMB} MB, of which ` +
        `frame cache ${r.frameCacheMB} MB, bounded; memory banks ${r.trackerMB} MB, bounded; stored results ${r.storedResultsKB} KB), ${r.fps} fps`,
    );
    console.log(`        RSS after ${Object.entries(r.rssMBAfterFrames).map(([n, v]) => `${n} frames ${v} MB`).join(", ")}`);
  }
}

(async () => {
  for (const model of models) {
    const local = await bench(model);
    if (!values.engine) continue;
    compareEngines(model, local, await bench(model, values.engine));
    await benchRemoteCalls(model, values.engine, image, runs);
    await benchTransports(model, values.engine, values["triton-grpc"], image, runs);
  }
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  if (!values["no-peer"]) await peer();
  if (!values["no-video"]) {
    await benchTrackers("sam3-tiny-336");
    videoMemory();
  }
})().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
