import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { maskToPng } from "../core/export/mask-png";
import { maskToCocoRle } from "../core/export/rle";
import { decodeImage } from "../core/image/decode";
import { parseDevice } from "../core/runtime/devices";
import { timed, type Timings } from "../core/runtime/timings";
import { Sam3, type SegmentResult } from "../core/sam3";
import { DEMO_IMAGE } from "../cli/demo";

/** Prints median per-stage milliseconds of text and click prompts, with the encoders re-run every time. */
const { values } = parseArgs({
  options: {
    model: { type: "string", multiple: true },
    device: { type: "string" },
    runs: { type: "string" },
    image: { type: "string" },
    threads: { type: "string" },
    "no-video": { type: "boolean" },
  },
});
const models = values.model ?? ["sam3-tiny-336", "sam3-tiny-1008"];
const runs = Number(values.runs ?? 5);
const image = values.image ?? DEMO_IMAGE;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function exportTime(result: SegmentResult, timings: Timings) {
  await timed(timings, "encode", async () => {
    for (const o of result.objects) {
      maskToCocoRle(o.mask);
      await maskToPng(o.mask);
    }
  });
}

async function bench(model: string) {
  const sam = await Sam3.open({
    model,
    device: values.device ? parseDevice(values.device) : undefined,
    intraOpThreads: values.threads ? Number(values.threads) : undefined,
    featureCacheImages: 0, // every run pays for the encoders
    onWarning: (m) => console.log(`  warning: ${m}`),
  });
  const rows: Record<string, Timings[]> = { "text prompt": [], "click prompt": [] };
  try {
    for (let run = -1; run < runs; run++) {
      // run -1 warms up: session creation is not part of a request
      const text: Timings = {};
      const decoded = await timed(text, "decode", () => decodeImage(image));
      const byText = await sam.segment(decoded, { text: `red circle ${run}` }, { threshold: 0, maxObjects: 3 });
      Object.assign(text, byText.timings);
      await exportTime(byText, text);
      const click: Timings = { decode: text.decode };
      const byClick = await sam.segment(decoded, { points: [{ x: decoded.width / 4, y: decoded.height / 3 }] });
      Object.assign(click, byClick.timings);
      await exportTime(byClick, click);
      if (run >= 0) {
        rows["text prompt"].push(text);
        rows["click prompt"].push(click);
      }
    }
  } finally {
    await sam.close();
  }
  console.log(`\n${model} on ${sam.device.active}${sam.device.fallbackReason ? ` (asked ${sam.device.requested})` : ""}, ${image}, median of ${runs} runs, ms`);
  for (const [name, list] of Object.entries(rows)) {
    const stages = Object.keys(list[0]);
    const cells = stages.map((s) => `${s} ${median(list.map((t) => t[s] ?? 0)).toFixed(1)}`);
    const total = median(list.map((t) => Object.values(t).reduce((a, b) => a + b, 0)));
    console.log(`  ${name.padEnd(13)} ${cells.join("  ")}  | total ${total.toFixed(1)}`);
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
        `frame cache ${r.frameCacheMB} MB, bounded; stored results ${r.storedResultsKB} KB), ${r.fps} fps`,
    );
    console.log(`        RSS after ${Object.entries(r.rssMBAfterFrames).map(([n, v]) => `${n} frames ${v} MB`).join(", ")}`);
  }
}

(async () => {
  for (const model of models) await bench(model);
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  if (!values["no-video"]) videoMemory();
})().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
