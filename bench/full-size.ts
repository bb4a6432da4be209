import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEMO_IMAGE } from "../cli/demo";

/**
 * This project against its peers on one pack, one image and one thread count, each runtime in its own process one
 * after the other (so each peak RSS is that runtime's alone):
 *   this project end to end (bench/run.js: text and click through the public API), onnxruntime-node graph by graph
 *   for the video frames (bench/graphs.js), PyTorch eager and onnxruntime for Python (models/export peers.py);
 *   with --variants, the pack's fp16 and int8 siblings (<pack>-fp16, <pack>-int8) against it in onnxruntime-python.
 * Prints the side-by-side table (ms, ratio = peer / this project); --json FILE keeps every figure.
 */
const { values } = parseArgs({
  options: {
    pack: { type: "string" },
    threads: { type: "string" },
    runs: { type: "string" },
    image: { type: "string" },
    from: { type: "string" },
    seed: { type: "string" },
    variants: { type: "boolean" },
    json: { type: "string" },
  },
});
if (!values.pack) throw new Error("usage: npm run bench:full -- --pack DIR [--threads N] [--runs N] [--variants] [--from SPEC --seed N] [--json FILE]");
const pack = resolve(values.pack);
const threads = values.threads ?? "2";
const runs = values.runs ?? "2";
const image = resolve(values.image ?? DEMO_IMAGE);
const ROOT = join(__dirname, "..", "..");
const EXPORT_DIR = join(ROOT, "models", "export");
const SCENARIOS = { text: "text prompt", click: "click prompt", video1: "video frame, 1 object", video4: "video frame, 4 objects" } as const;
type Scenario = keyof typeof SCENARIOS;
/** Stages of bench/run.js that are not a graph. */
const GLUE = new Set(["decode", "preprocess", "postprocess", "encode"]);

interface Result {
  runtime: string;
  scenarios: Partial<Record<Scenario, number>>;
  stages: Record<string, number>;
  peakRssMB: number;
  seconds: number;
  load: string;
  [k: string]: unknown;
}

/** Runs one child to the end, its progress passed through; returns its stdout, wall time and the load around it. */
function child(label: string, command: string, args: string[], cwd = ROOT) {
  console.error(`\n$ ${[command, ...args].join(" ")}`);
  const before = loadavg()[0];
  const start = performance.now();
  const r = spawnSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${label} failed (exit ${r.status ?? r.signal})`);
  return { out: r.stdout, seconds: Math.round((performance.now() - start) / 1000), load: `${before.toFixed(1)}/${loadavg()[0].toFixed(1)}` };
}

/** bench/run.js prints one line per prompt: `  text prompt   stage ms  stage ms ... | total ms`, and its peak RSS. */
function thisProject(): Result {
  const { out, seconds, load } = child("bench/run.js", process.execPath, [join(__dirname, "run.js"), "--model", pack, "--runs", runs, "--threads", threads, "--image", image, "--no-video"]);
  process.stderr.write(out);
  const scenarios: Result["scenarios"] = {};
  const stages: Record<string, number> = {};
  for (const [key, label] of [["text", "text prompt"], ["click", "click prompt"]] as const) {
    const line = out.split("\n").find((l) => l.trimStart().startsWith(label));
    const m = line?.match(/^\s*\S+ \S+\s+(.*)\|\s*total ([\d.]+)/);
    if (!m) throw new Error(`bench/run.js printed no ${label} line`);
    scenarios[key] = Number(m[2]);
    let graphs = 0;
    for (const [, stage, ms] of m[1].matchAll(/(\S+) ([\d.]+)/g)) {
      stages[`${key}: ${stage}`] = Number(ms);
      if (!GLUE.has(stage)) graphs += Number(ms);
    }
    stages[`${key}: graphs`] = Number(graphs.toFixed(1));
  }
  const rss = out.match(/peak RSS (\d+) MB/);
  return { runtime: "this project (end to end)", scenarios, stages, peakRssMB: Number(rss?.[1] ?? 0), seconds, load };
}

function jsonChild(label: string, command: string, args: string[], cwd?: string): Result {
  const { out, seconds, load } = child(label, command, args, cwd);
  const line = out.trim().split("\n").pop() ?? "";
  return { ...JSON.parse(line), seconds, load };
}

const nodeGraphs = () => jsonChild("bench/graphs.js", process.execPath, [join(__dirname, "graphs.js"), "--pack", pack, "--runs", runs, "--threads", threads, "--image", image]);

function peers(extra: string[]): Result {
  const source = values.from ? ["--from", values.from, ...(values.seed ? ["--seed", values.seed] : [])] : [];
  return jsonChild("peers.py", "bash", ["python.sh", "-m", "sam3_export.peers", "--pack", pack, "--runs", runs, "--threads", threads, "--image", image, ...source, ...extra], EXPORT_DIR);
}

const cell = (v: number | undefined, width = 12) => (v === undefined ? "-" : v.toFixed(0)).padStart(width);
const ratio = (peer: number | undefined, ours: number | undefined) => (peer && ours ? `${(peer / ours).toFixed(2)}x` : "-").padStart(7);

function printTable(ours: Result, oursVideo: Result, torch?: Result, ortPy?: Result) {
  console.log(`\n${pack}, ${image}, ${threads} threads, median of ${runs} runs after a warm-up, ms (ratio = peer / this project)`);
  console.log(`${"scenario".padEnd(24)}${"this project".padStart(12)}${"PyTorch".padStart(12)}${"ratio".padStart(7)}${"ORT-python".padStart(12)}${"ratio".padStart(7)}`);
  for (const [key, label] of Object.entries(SCENARIOS) as [Scenario, string][]) {
    const mine = ours.scenarios[key] ?? oursVideo.scenarios[key];
    const t = torch?.scenarios[key];
    const o = ortPy?.scenarios[key];
    console.log(`${label.padEnd(24)}${cell(mine)}${cell(t)}${ratio(t, mine)}${cell(o)}${ratio(o, mine)}`);
  }
  console.log("text / click: this project end to end (decode, preprocess, graphs, postprocess, PNG + RLE); graphs only: " +
    `text ${ours.stages["text: graphs"]}, click ${ours.stages["click: graphs"]}. Video frames: onnxruntime-node graph by graph (bench/graphs.js). Peers: graphs only.`);
  console.log("\nper stage, ms:");
  const ran = [ours, oursVideo, torch, ortPy].filter((r): r is Result => r !== undefined);
  for (const r of ran) console.log(`  ${r.runtime}: ${Object.entries(r.stages).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log("\nprocess, peak RSS MB, wall s, load average before/after:");
  for (const r of ran) console.log(`  ${r.runtime.padEnd(28)}${String(r.peakRssMB).padStart(8)}${String(r.seconds).padStart(8)}   ${r.load}`);
}

function printVariants(v: Result) {
  const variants = v.variants as Record<string, { stages: Record<string, number>; scenarios: Record<string, number>; packBytes: number; peakRssMB: number; maxAbsDiff?: Record<string, number>; topMaskIoU?: Record<string, number> }>;
  const ref = variants.fp32;
  console.log("\nvariants in onnxruntime-python (ms, speed = fp32 time / variant time; agreement: the variant's own chain against fp32's):");
  for (const [dtype, e] of Object.entries(variants)) {
    console.log(`  ${dtype}: graphs ${(e.packBytes / 2 ** 30).toFixed(2)} GiB, process peak RSS after it ${e.peakRssMB} MB`);
    console.log(`    ${Object.entries(e.stages).map(([k, ms]) => `${k} ${ms}` + (dtype === "fp32" ? "" : ` (${(ref.stages[k] / ms).toFixed(2)}x)`)).join(", ")}`);
    if (e.maxAbsDiff) console.log(`    max |${dtype} - fp32|: ${Object.entries(e.maxAbsDiff).map(([k, d]) => `${k} ${d}`).join(", ")}`);
    if (e.topMaskIoU) console.log(`    top-mask IoU with fp32: ${Object.entries(e.topMaskIoU).map(([k, d]) => `${k} ${d}`).join(", ")}`);
  }
}

function main() {
  const done: Record<string, Result> = {};
  // each runtime's figures are kept as soon as it ends: a late failure loses only its own
  const keep = (key: string, r: Result) => {
    done[key] = r;
    if (values.json) writeFileSync(values.json, JSON.stringify({ pack, image, threads, runs, ...done }, null, 1) + "\n");
    return r;
  };
  // a runtime that fails (killed for memory, say) is reported and left out; the others still run
  const attempt = (key: string, work: () => Result): Result | undefined => {
    try {
      return keep(key, work());
    } catch (e) {
      console.error(`${key}: ${e instanceof Error ? e.message : e}`);
      return undefined;
    }
  };
  const ours = keep("thisProject", thisProject());
  const oursVideo = keep("nodeGraphs", nodeGraphs());
  // with --variants, the fp32 pass of the variants' comparison is the onnxruntime-python column (one pass fewer)
  const variants = values.variants ? attempt("variants", () => peers(["--variants", `${pack}-fp16,${pack}-int8`])) : undefined;
  const fp32 = (variants?.variants as Record<string, Result> | undefined)?.fp32;
  const ortPy = fp32 ? { ...fp32, runtime: "onnxruntime-python", seconds: variants!.seconds, load: variants!.load } : attempt("ortPython", () => peers(["--runtime", "ort"]));
  const torch = attempt("pytorch", () => peers(["--runtime", "torch"]));
  printTable(ours, oursVideo, torch, ortPy);
  if (variants) printVariants(variants);
}

try {
  main();
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
}
