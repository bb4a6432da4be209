import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureFolder, fetchablePreset, fetchPreset, parseDevice, presetDir, PRESETS, verifyPack } from "../core";
import { UsageError } from "./args";
import { progressLine } from "./progress";

export const MODELS_USAGE = `sam3 models list | fetch <preset> [--dir D] [--base-url URL] | verify <dir|preset> [--device D]

  list      presets: bundled, installed or downloadable, with size and licence
  fetch     download a preset's files (resumes partial downloads, checks published sha256; HF_TOKEN for gated
            repositories; --base-url or SAM3_MODEL_BASE_URL for a mirror) and write its manifest
  verify    open a pack, check every file and tensor, run one inference per head`;

export async function modelsCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { dir: { type: "string" }, "base-url": { type: "string" }, device: { type: "string" } } });
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
      onFile: (file, i, n) => process.stderr.write(`${file} (${i + 1}/${n})\n`),
      onProgress: (_file, bytes, total) => bar.update(Math.round(bytes / 2 ** 20), total ? Math.round(total / 2 ** 20) : 0, "MiB"),
    });
    bar.end();
    process.stdout.write(`${preset.name} installed in ${dir}\n`);
    return;
  }
  if (action === "verify") {
    if (positionals.length !== 1) throw new UsageError("give the pack folder or preset to verify");
    const report = await verifyPack(positionals[0], values.device ? parseDevice(values.device) : undefined);
    process.stdout.write(`${report.model} (${report.dir}) on ${report.device}: ok\n`);
    for (const c of report.checks) process.stdout.write(`  ${c.name.padEnd(12)} ${c.ms.toFixed(0).padStart(6)} ms${c.name === "open" ? "" : `  ${c.objects} object(s)`}\n`);
    return;
  }
  throw new UsageError(`unknown models action "${action ?? ""}"\n\n${MODELS_USAGE}`.split("\n")[0]);
}

function list() {
  for (const p of PRESETS) {
    const where = presetDir(p);
    const state = p.bundled ? "bundled" : existsSync(where) ? `installed in ${where}` : "not installed (sam3 models fetch " + p.name + ")";
    const size = p.files?.some((f) => f.bytes) ? `, ${(p.files.reduce((n, f) => n + (f.bytes ?? 0), 0) / 2 ** 30).toFixed(1)} GiB` : "";
    process.stdout.write(`${p.name}\n  ${p.description}${size}\n  licence: ${p.licence}\n  ${state}\n`);
  }
}
