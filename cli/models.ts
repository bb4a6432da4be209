import { existsSync } from "node:fs";
import {
  ensureFolder,
  EXPORT_ROLES,
  type ExportDtype,
  exportPack,
  describeCapabilities,
  fetchablePreset,
  fetchPreset,
  formatBytes,
  openPack,
  parseDevice,
  presetDir,
  PRESETS,
  readCommandLine,
  setupExporter,
  verifyPack,
  writeTritonRepository,
  type TritonRepositoryOptions,
} from "../core";
import { engineUrl, parseCount, parseThreads, UsageError } from "./args";
import { progressLine } from "./progress";

export const MODELS_USAGE = `sam3 models list | fetch <preset> [--dtype D] [--dir D] [--base-url URL] | verify <dir|preset> [--device D] [--engine URL]
sam3 models export --from SOURCE --out DIR [--seed N] [--dtype fp32|fp16|int8] [--roles a,b] [--no-check]
                   [--hf-weights] [--threads N] | export --setup
sam3 models triton-repo --model PACK --out DIR [--instances N] [--kind gpu|cpu] [--tensorrt fp16|fp32] [--max-batch N]

  list      presets: bundled, installed or downloadable, what each can do, precisions with sizes, licence
  fetch     download a preset's files in one precision (--dtype, default fp32; resumes partial downloads, checks
            published sha256; HF_TOKEN for gated repositories; --base-url or SAM3_MODEL_BASE_URL for a mirror
            that serves the pack's files under their pack paths) and write its manifest
  verify    open a pack, check every file and tensor, then run every capability it claims (text, exemplar box,
            click, box, clicks + previous mask, 3 frames of video), printing each stage's time; stops at the first
            stage that fails. --engine URL runs the graphs on a Triton server (triton://host:8000), as for segment
  export    make a pack with the project's Python exporter (build time only; --setup makes its environment
            once, Python 3.10+). SOURCE: tiny-336, tiny-1008 or full-random (random weights, --seed N), a hub id
            such as facebook/sam3 (gated: set HF_TOKEN) or a checkpoint folder. --dtype fp16|int8 writes a smaller
            pack, --roles only those graphs, --no-check skips the onnxruntime-vs-PyTorch check of each graph,
            --hf-weights adds the HF checkpoint (hf/model.safetensors), --threads N torch threads. Progress goes to
            stderr, the pack folder to stdout. Roles:
${EXPORT_ROLES.join(", ").replace(/(.{1,96})(,|$) ?/g, "            $1$2\n").trimEnd()}
  triton-repo  write a Triton Inference Server model repository for a pack: one onnxruntime model per graph,
            dynamic batching where the graph allows (up to --max-batch, default 8), --instances copies of each
            (default 1) on --kind gpu (default) or cpu, --tensorrt to let TensorRT run the graphs. DIR must be new
            or empty. Serve it with tritonserver --model-repository DIR, then run sam3 with
            --engine triton://HOST:8000 (docs/scaling.md)`;

export async function modelsCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === "export") return exportCommand(rest);
  if (action === "triton-repo") return tritonRepoCommand(rest);
  const { values, positionals } = readCommandLine(
    { args: rest, allowPositionals: true, options: { dir: { type: "string" }, "base-url": { type: "string" }, device: { type: "string" }, engine: { type: "string" }, dtype: { type: "string" } } },
    "sam3 models --help",
  );
  if (action === "list") return list();
  if (action === "fetch") {
    if (positionals.length !== 1) throw new UsageError("give one preset to fetch (see sam3 models list)");
    const preset = fetchablePreset(positionals[0]);
    // a folder that cannot be made fails before any download
    if (values.dir) await ensureFolder(values.dir);
    const bar = progressLine("downloading");
    const dir = await fetchPreset(preset, {
      dir: values.dir,
      baseUrl: values["base-url"],
      dtype: values.dtype,
      onFile: (file, i, n) => process.stderr.write(`${file} (${i + 1}/${n})\n`),
      onProgress: (_file, bytes, total) => bar.update(Math.round(bytes / 2 ** 20), total ? Math.round(total / 2 ** 20) : 0, "MiB"),
    });
    bar.end();
    process.stdout.write(`${preset.name} installed in ${dir}\n`);
    return;
  }
  if (action === "verify") {
    if (positionals.length !== 1) throw new UsageError("give the pack folder or preset to verify");
    const line = (c: { name: string; ms: number; objects: number }) =>
      process.stdout.write(`  ${c.name.padEnd(24)} ${c.ms.toFixed(0).padStart(7)} ms${c.name === "open" ? "" : `  ${c.objects} ${c.name.startsWith("video") ? "frame(s)" : "object(s)"}`}\n`);
    const runtime = { device: values.device ? parseDevice(values.device) : undefined, engine: engineUrl(values.engine) };
    const report = await verifyPack(positionals[0], runtime, line);
    process.stdout.write(`${report.model} (${report.dir}) on ${report.device}: ok\n  can do: ${report.capabilities}\n`);
    return;
  }
  throw new UsageError(`unknown models action "${action ?? ""}"\n\n${MODELS_USAGE}`.split("\n")[0]);
}

async function exportCommand(argv: string[]): Promise<void> {
  const { values } = readCommandLine({
    args: argv,
    options: {
      from: { type: "string" },
      out: { type: "string" },
      seed: { type: "string" },
      dtype: { type: "string" },
      roles: { type: "string" },
      "no-check": { type: "boolean" },
      "hf-weights": { type: "boolean" },
      threads: { type: "string" },
      setup: { type: "boolean" },
    },
  }, "sam3 models --help");
  const line = (text: string) => process.stderr.write(text + "\n");
  if (values.setup) {
    if (Object.keys(values).length > 1) throw new UsageError("--setup takes no other option: run it first, then the export");
    await setupExporter({ onLine: line });
    process.stdout.write("the exporter's environment is ready\n");
    return;
  }
  if (!values.from || !values.out) throw new UsageError("give --from SOURCE and --out DIR (see sam3 models --help)");
  const dir = await exportPack({
    from: values.from,
    out: values.out,
    seed: parseCount(values.seed, "seed", 0, 2 ** 32 - 1),
    // checked by exportPack with the other values
    dtype: values.dtype as ExportDtype | undefined,
    roles: values.roles?.split(","),
    check: !values["no-check"],
    hfWeights: values["hf-weights"],
    threads: parseThreads(values.threads),
    onProgress: line,
  });
  process.stdout.write(dir + "\n");
}

async function tritonRepoCommand(argv: string[]): Promise<void> {
  const { values } = readCommandLine({
    args: argv,
    options: {
      model: { type: "string" },
      out: { type: "string" },
      instances: { type: "string" },
      kind: { type: "string" },
      tensorrt: { type: "string" },
      "max-batch": { type: "string" },
    },
  }, "sam3 models --help");
  if (!values.model || !values.out) throw new UsageError("give --model PACK and --out DIR (see sam3 models --help)");
  const models = await writeTritonRepository(openPack(values.model), values.out, {
    instances: parseCount(values.instances, "instances", 1, 16),
    maxBatch: parseCount(values["max-batch"], "max-batch", 1, 64),
    // checked by writeTritonRepository with the other values
    kind: values.kind as TritonRepositoryOptions["kind"],
    tensorrt: values.tensorrt as TritonRepositoryOptions["tensorrt"],
  });
  for (const m of models) process.stdout.write(`${m.name}  (${m.graph}${m.batched ? ", batched" : ""})\n`);
  process.stdout.write(`serve it with tritonserver --model-repository ${values.out} and run sam3 with --engine triton://HOST:8000\n`);
  // Triton refuses GPU instances on a machine without one: the first thing a CPU-only try would meet
  if ((values.kind ?? "gpu") === "gpu") process.stdout.write("its instances run on GPUs: for a server without one, write it with --kind cpu\n");
}

function list() {
  for (const p of PRESETS) {
    const where = presetDir(p);
    const state = p.bundled ? "bundled" : existsSync(where) ? `installed in ${where}` : `not installed (sam3 models fetch ${p.name} [--dtype D])`;
    const lines = [
      `${p.name}${p.verified ? "" : "  (layout read from the exporter's code, not yet checked against its real files)"}`,
      `  ${p.description}`,
      `  can do: ${describeCapabilities(p.capabilities)}`,
    ];
    if (p.variants) {
      const sized = p.variants.every((v) => v.bytes);
      lines.push(`  precisions (--dtype): ${p.variants.map((v) => (sized ? `${v.dtype} ${formatBytes(v.bytes!)}` : v.dtype)).join(", ")}${sized ? "" : " (sizes not published)"}`);
    }
    lines.push(`  licence: ${p.licence}`, `  ${state}`);
    process.stdout.write(lines.join("\n") + "\n");
  }
}
