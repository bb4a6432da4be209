import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cachedInstall, cachedNode22, installAndSegment, NODE_TYPES, paletteSuite } from "./palette";

// the first run fetches Node 22 and Node-RED 5 from the npm registry into the cache; later runs find them there
const suite = paletteSuite(() => {
  const nodeBin = cachedNode22();
  return { nodeBin, redJs: join(cachedInstall("node-red5", "node-red@5", nodeBin), "node_modules", "node-red", "red.js") };
}, 900_000);

describe("palette install on Node-RED 5 and Node 22", () => {
  it("installs the tarball through the admin API, registers the nodes and segments with the bundled pack", async () => {
    const check = await installAndSegment(suite.runtime(), suite.tarball());
    console.log(`palette install on Node-RED 5 / Node 22: ${check.installSeconds.toFixed(1)} s`);
    expect(suite.runtime().log()).toMatch(/Node-RED version: v5\./);
    expect(suite.runtime().log()).toMatch(/Node\.js\s+version: v22\./);
    expect(check.errors, suite.runtime().log()).toEqual([]);
    expect(check.types).toEqual(NODE_TYPES);
    expect(check.objects).toBe(16);
    expect(check.cudaFiles, "no CUDA provider downloaded").toEqual([]);
  }, 300_000);
});
