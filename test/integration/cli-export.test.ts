import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, cliWithEnv, oneError, stderrLines } from "../support/cli";

/**
 * `sam3 models export` as users run it, with the project's real Python exporter (the environment
 * `npm run export:setup` made): a one-graph export of the tiny model, and every way the command refuses.
 */

const EXPORT_TIMEOUT = 180_000;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "sam3-cli-export-"));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe("sam3 models export", () => {
  it(
    "exports the tiny model's text encoder into a pack whose graph opens and runs",
    async () => {
      const out = join(tmp, "text-pack");
      const run = await cli("models", "export", "--from", "tiny-336", "--roles", "textEncoder", "--no-check", "--out", out, "--threads", "2");
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(out + "\n");
      expect(run.stderr).toMatch(/textEncoder/);
      expect(run.stderr).not.toMatch(/Traceback/);
      const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
      expect(Object.keys(manifest.roles)).toEqual(["textEncoder"]);
      expect(existsSync(join(out, manifest.tokenizer.file))).toBe(true);
      // `models verify` checks the graph's file and tensors, then wants a whole detector or tracker, which one role is not
      const verify = await cli("models", "verify", out);
      expect(oneError(verify, 1)).toMatch(/has neither a complete detector .* nor a complete tracker/);
      // the graph itself runs on the manifest's tensor names
      const role = manifest.roles.textEncoder;
      const session = await ort.InferenceSession.create(join(out, role.file));
      const length = manifest.tokenizer.contextLength;
      const ids = new BigInt64Array(length).fill(0n);
      const mask = new BigInt64Array(length).fill(0n);
      ids.set([49406n, 320n, 49407n]);
      mask.set([1n, 1n, 1n]);
      const result = await session.run({
        [role.inputs.inputIds]: new ort.Tensor("int64", ids, [1, length]),
        [role.inputs.attentionMask]: new ort.Tensor("int64", mask, [1, length]),
      });
      const features = result[role.outputs.textFeatures];
      expect(features.dims.slice(0, 2)).toEqual([1, length]);
      expect([...(features.data as Float32Array)].every(Number.isFinite)).toBe(true);
      await session.release();
    },
    EXPORT_TIMEOUT,
  );

  it(
    "reports the exporter's refusal as one EXPORT_FAILED line, without a traceback",
    async () => {
      const run = await cli("models", "export", "--from", "tiny-999", "--out", join(tmp, "never"));
      const line = oneError(run, 1);
      expect(line).toMatch(/^sam3: error: export failed: bad-source: --from takes /);
      expect(existsSync(join(tmp, "never", "manifest.json"))).toBe(false);
    },
    EXPORT_TIMEOUT,
  );

  it("asks for the setup when the exporter's environment is missing", async () => {
    const run = await cliWithEnv({ SAM3_EXPORT_VENV: join(tmp, "no-venv") }, "models", "export", "--from", "tiny-336", "--out", join(tmp, "p"));
    expect(oneError(run, 1)).toMatch(/not set up: run `npx sam3 models export --setup` \(or `npm run export:setup`.*Python 3\.10/);
  });

  it("refuses bad options before anything runs", async () => {
    // an environment that does not exist: a refusal here proves the check came before any spawn
    const env = { SAM3_EXPORT_VENV: join(tmp, "no-venv") };
    const out = join(tmp, "p");
    const cases: [string[], number, RegExp][] = [
      [["--from", "tiny-336", "--out", out, "--dtype", "fp64"], 2, /--dtype must be one of fp32, fp16, int8/],
      [["--from", "tiny-336", "--out", out, "--threads", "0"], 2, /--threads must be a whole number from 1 to 256/],
      [["--from", "tiny-336", "--out", out, "--seed", "1.5"], 2, /--seed must be a whole number/],
      [["--from", "tiny-336", "--out", out, "--roles", "textEncoder,bogus"], 2, /--roles .*unknown: bogus/],
      [["--from", "tiny-336; touch /tmp/pwned", "--out", out], 2, /is neither a preset, a hub id \(owner\/name\) nor a folder/],
      [["--from", "./no-such-checkpoint", "--out", out], 1, /the checkpoint folder given to --from does not exist/],
      [["--out", out], 2, /give --from SOURCE and --out DIR/],
      [["--from", "tiny-336", "--out", out, "--bogus"], 2, /bogus/],
      [["--setup", "--from", "tiny-336"], 2, /--setup takes no other option/],
    ];
    for (const [args, code, message] of cases) expect(oneError(await cliWithEnv(env, "models", "export", ...args), code), args.join(" ")).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it("reports a failed setup in one line", async () => {
    const venv = join(tmp, "setup-venv");
    await mkdir(tmp, { recursive: true });
    const run = await cliWithEnv({ SAM3_EXPORT_VENV: venv, PYTHON: join(tmp, "no-python") }, "models", "export", "--setup");
    expect(run.code).toBe(1);
    expect(stderrLines(run).at(-1)).toMatch(/^sam3: error: the exporter's setup failed \(exit code \d+\).*Python 3\.10/);
    expect(readdirSync(tmp)).not.toContain("setup-venv");
  });
});
