import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../support/reference";
import { installAndSegment, NODE_TYPES, paletteSuite } from "./palette";

const requireDev = createRequire(join(REPO, "package.json"));
const suite = paletteSuite(() => ({ nodeBin: process.execPath, redJs: requireDev.resolve("node-red/red.js") }), 120_000);

describe("palette install on Node-RED 4 and this Node", () => {
  it("installs the tarball with no environment and no .npmrc, registers the nodes and segments with the bundled pack", async () => {
    const check = await installAndSegment(suite.runtime(), suite.tarball());
    console.log(`palette install on Node-RED 4 / Node ${process.version}: ${check.installSeconds.toFixed(1)} s`);
    expect(suite.runtime().log()).toMatch(/Node-RED version: v4\./);
    expect(check.errors, suite.runtime().log()).toEqual([]);
    expect(check.types).toEqual(NODE_TYPES);
    // the bundled random weights at threshold 0 return all 16 queries
    expect(check.objects).toBe(16);
    expect(check.cudaFiles, "no CUDA provider downloaded").toEqual([]);
  }, 300_000);

  it("leaves onnxruntime-node's CUDA download to an explicit request", () => {
    const userDir = suite.runtime().userDir;
    const script = join(userDir, "node_modules", "onnxruntime-node", "script", "install.js");
    const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [script], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
    const quiet = run({});
    expect([quiet.status, quiet.stdout + quiet.stderr]).toEqual([0, ""]);
    // a request reaches onnxruntime-node's own script: this one it refuses before any download
    const asked = run({ ONNXRUNTIME_NODE_INSTALL_CUDA: "v11" });
    expect(asked.status).not.toBe(0);
    expect(asked.stderr).toContain("CUDA 11 is no longer supported");
    // and the installed command knows where the provider would go
    const status = spawnSync(join(userDir, "node_modules", ".bin", "sam3"), ["gpu", "status"], { encoding: "utf8" });
    expect(status.stdout).toMatch(/^not installed: Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux \d/);
  });
});
