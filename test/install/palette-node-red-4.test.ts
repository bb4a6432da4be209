import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../support/reference";
import { installAndSegment, NODE_TYPES, packTarball, startPaletteNodeRed, type PaletteRuntime } from "./palette";

const requireDev = createRequire(join(REPO, "package.json"));
let runtime: PaletteRuntime;
let tarball: string;

beforeAll(async () => {
  tarball = packTarball();
  runtime = await startPaletteNodeRed(process.execPath, requireDev.resolve("node-red/red.js"));
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  if (tarball) rmSync(dirname(tarball), { recursive: true, force: true });
});

describe("palette install on Node-RED 4 and this Node", () => {
  it("installs the tarball with no environment and no .npmrc, registers the nodes and segments with the bundled pack", async () => {
    const check = await installAndSegment(runtime, tarball);
    console.log(`palette install on Node-RED 4 / Node ${process.version}: ${check.installSeconds.toFixed(1)} s`);
    expect(runtime.log()).toMatch(/Node-RED version: v4\./);
    expect(check.errors, runtime.log()).toEqual([]);
    expect(check.types).toEqual(NODE_TYPES);
    // the bundled random weights at threshold 0 return all 16 queries
    expect(check.objects).toBe(16);
    expect(check.cudaFiles, "no CUDA provider downloaded").toEqual([]);
  }, 300_000);

  it("leaves onnxruntime-node's CUDA download to an explicit request", () => {
    const script = join(runtime.userDir, "node_modules", "onnxruntime-node", "script", "install.js");
    const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [script], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
    const quiet = run({});
    expect([quiet.status, quiet.stdout + quiet.stderr]).toEqual([0, ""]);
    // a request reaches onnxruntime-node's own script: this one it refuses before any download
    const asked = run({ ONNXRUNTIME_NODE_INSTALL_CUDA: "v11" });
    expect(asked.status).not.toBe(0);
    expect(asked.stderr).toContain("CUDA 11 is no longer supported");
    // and the installed command knows where the provider would go
    const status = spawnSync(join(runtime.userDir, "node_modules", ".bin", "sam3"), ["gpu", "status"], { encoding: "utf8" });
    expect(status.stdout).toMatch(/^not installed: Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux \d/);
  });
});
