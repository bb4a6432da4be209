import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tritonModelName } from "../../core/triton/model-names";
import { cli, oneError } from "../support/cli";
import { REPO } from "../support/reference";

/** `sam3 models triton-repo` as users run it: the repository it writes for the bundled pack, and how it refuses. */

const PACK = join(REPO, "models", "sam3-tiny-336");
const manifest = JSON.parse(readFileSync(join(PACK, "manifest.json"), "utf8"));
const graphs = [...new Set(Object.entries(manifest.roles as Record<string, { file: string }>).filter(([role]) => role !== "trackerConstants").map(([, g]) => g.file))];
const tmp = mkdtempSync(join(tmpdir(), "sam3-cli-triton-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("sam3 models triton-repo", () => {
  it("writes one model per graph of the pack, each graph byte for byte, and says how to serve it", async () => {
    const out = join(tmp, "repo");
    const run = await cli("models", "triton-repo", "--model", PACK, "--out", out, "--instances", "2", "--max-batch", "4", "--tensorrt", "fp16");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(graphs.length + 2);
    expect(lines.slice(-2)).toEqual([
      `serve it with tritonserver --model-repository ${out} and run sam3 with --engine triton://HOST:8000`,
      "its instances run on GPUs: for a server without one, write it with --kind cpu",
    ]);
    expect(readdirSync(out).sort()).toEqual(graphs.map((g) => tritonModelName(manifest.name, g)).sort());
    for (const graph of graphs) {
      const name = tritonModelName(manifest.name, graph);
      expect(lines).toContain(`${name}  (${graph}${graph.includes("text_encoder") ? ", batched" : ""})`);
      expect(readFileSync(join(out, name, "1", "model.onnx")).equals(readFileSync(join(PACK, graph))), graph).toBe(true);
      const config = readFileSync(join(out, name, "config.pbtxt"), "utf8");
      expect(config).toContain(`name: "${name}"`);
      expect(config).toContain("count: 2\n    kind: KIND_GPU");
      expect(config).toContain('value: "FP16"');
      expect(config).toContain(`max_batch_size: ${graph.includes("text_encoder") ? 4 : 0}\n`);
    }
    // the folder is complete, and nothing was left beside it
    expect(readdirSync(tmp).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it.each([
    [["--out", "x"], 2, /^sam3: error: give --model PACK and --out DIR/],
    [["--model", PACK], 2, /^sam3: error: give --model PACK and --out DIR/],
    [["--model", PACK, "--out", "x", "--instances", "0"], 2, /^sam3: error: --instances must be a whole number from 1 to 16, got "0"$/],
    [["--model", PACK, "--out", "x", "--max-batch", "65"], 2, /^sam3: error: --max-batch must be a whole number from 1 to 64, got "65"$/],
    [["--model", PACK, "--out", "x", "--kind", "tpu"], 2, /^sam3: error: kind must be gpu or cpu, got tpu$/],
    [["--model", PACK, "--out", "x", "--tensorrt", "int8"], 2, /^sam3: error: tensorrt must be off, fp16 or fp32, got int8$/],
    [["--model", PACK, "--out", "x", "--kind", "cpu", "--tensorrt", "fp32"], 2, /^sam3: error: tensorrt runs on GPU instances only/],
    [["--model", PACK, "--out", "x", "--instance", "2"], 2, /^sam3: error: unknown option --instance \(did you mean --instances\?\)$/],
    [["--model", "no-such-pack", "--out", "x"], 1, /^sam3: error: "no-such-pack" is neither a model pack folder nor a known preset/],
  ])("%o: one error line, exit status %i, nothing written", async (args, code, message) => {
    const run = await cli("models", "triton-repo", ...(args as string[]).map((a) => (a === "x" ? join(tmp, "never") : a)));
    expect(oneError(run, code)).toMatch(message);
    expect(readdirSync(tmp)).not.toContain("never");
  });

  it("refuses a folder that is not empty, without naming it", async () => {
    const full = join(tmp, "full");
    mkdirSync(full);
    writeFileSync(join(full, "keep.txt"), "mine");
    const line = oneError(await cli("models", "triton-repo", "--model", PACK, "--out", full), 1);
    expect(line).toBe("sam3: error: the output folder is not empty: give a new or empty folder for the model repository");
    expect(readdirSync(full)).toEqual(["keep.txt"]);
  });
});
