import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cachedInstall, cachedNode22, installAndSegment, NODE_TYPES, packTarball, startPaletteNodeRed, type PaletteRuntime } from "./palette";

let runtime: PaletteRuntime;
let tarball: string;

// the first run fetches Node 22 and Node-RED 5 from the npm registry into the cache; later runs find them there
beforeAll(async () => {
  const node22 = cachedNode22();
  const nodeRed5 = cachedInstall("node-red5", "node-red@5", node22);
  tarball = packTarball();
  runtime = await startPaletteNodeRed(node22, join(nodeRed5, "node_modules", "node-red", "red.js"));
}, 900_000);

afterAll(async () => {
  await runtime?.stop();
  if (tarball) rmSync(dirname(tarball), { recursive: true, force: true });
});

describe("palette install on Node-RED 5 and Node 22", () => {
  it("installs the tarball through the admin API, registers the nodes and segments with the bundled pack", async () => {
    const check = await installAndSegment(runtime, tarball);
    console.log(`palette install on Node-RED 5 / Node 22: ${check.installSeconds.toFixed(1)} s`);
    expect(runtime.log()).toMatch(/Node-RED version: v5\./);
    expect(runtime.log()).toMatch(/Node\.js\s+version: v22\./);
    expect(check.errors, runtime.log()).toEqual([]);
    expect(check.types).toEqual(NODE_TYPES);
    expect(check.objects).toBe(16);
    expect(check.cudaFiles, "no CUDA provider downloaded").toEqual([]);
  }, 300_000);
});
