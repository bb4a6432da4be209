import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPack } from "../../core/pack/open";
import { Engine } from "../../core/runtime/engine";
import { Sam3 } from "../../core/sam3";
import { rewriteOnnx } from "../../bench/onnx-rewrite";
import { REPO, SCENE } from "../support/reference";

const PACK = join(REPO, "models", "sam3-tiny-336");
const scratch = mkdtempSync(join(tmpdir(), "sam3-weights-"));
const elsewhere = mkdtempSync(join(tmpdir(), "sam3-cwd-"));
const cwd = process.cwd();

/** The bundled pack with every graph's weights in a `.onnx_data` beside it; minBytes 1 moves even shape constants out. */
function externalPack(name: string, minBytes?: number): string {
  const dir = join(scratch, name);
  mkdirSync(join(dir, "onnx"), { recursive: true });
  for (const f of ["manifest.json", "tokenizer.json"]) copyFileSync(join(PACK, f), join(dir, f));
  for (const f of readdirSync(join(PACK, "onnx"))) {
    if (!f.endsWith(".onnx")) {
      copyFileSync(join(PACK, "onnx", f), join(dir, "onnx", f)); // the tracker constants are no graph
      continue;
    }
    const { model, data } = rewriteOnnx(readFileSync(join(PACK, "onnx", f)), {}, `${f}_data`, minBytes);
    writeFileSync(join(dir, "onnx", f), model);
    writeFileSync(join(dir, "onnx", `${f}_data`), data!);
  }
  return dir;
}

let byPath: string;
let allExternal: string;
beforeAll(() => {
  byPath = externalPack("by-path");
  allExternal = externalPack("all-external", 1);
  // relative locations must resolve against each graph's folder, not where the process happens to run
  process.chdir(elsewhere);
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(scratch, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

const textFeeds = () => ({
  inputIds: new ort.Tensor("int64", new BigInt64Array(32).fill(1n), [1, 32]),
  attentionMask: new ort.Tensor("int64", new BigInt64Array(32).fill(1n), [1, 32]),
});

describe("external weights are handed to onnxruntime by path", () => {
  it("opening a graph does not copy its weights file into JS memory", async () => {
    const size = statSync(join(byPath, "onnx", "text_encoder.onnx_data")).size;
    expect(size).toBeGreaterThan(4 << 20);
    const engine = new Engine(openPack(byPath));
    const before = process.memoryUsage().arrayBuffers;
    await engine.run("textEncoder", textFeeds());
    const grown = process.memoryUsage().arrayBuffers - before;
    await engine.close();
    console.log(`text encoder: ${size} bytes of external weights, JS array buffers grew ${grown} bytes on opening and one run`);
    expect(grown).toBeLessThan(size / 8);
  });

  it("same results as the inline pack, from another working directory", async () => {
    const segment = async (model: string) => {
      const sam = await Sam3.open({ model });
      try {
        return [
          await sam.segment(SCENE, { text: "red circle" }, { threshold: 0, minRegionArea: 0, maxObjects: 3 }),
          await sam.segment(SCENE, { points: [{ x: 160, y: 170 }] }),
        ];
      } finally {
        await sam.close();
      }
    };
    const [ours, theirs] = [await segment(PACK), await segment(byPath)];
    for (let i = 0; i < ours.length; i++) {
      expect(theirs[i].objects.map((o) => o.score)).toEqual(ours[i].objects.map((o) => o.score));
      expect(theirs[i].objects[0].mask.data).toEqual(ours[i].objects[0].mask.data);
    }
  });

  it("a graph whose folded constants are external too still opens (the weights then go over in memory)", async () => {
    const engine = new Engine(openPack(allExternal));
    try {
      const out = await engine.run("textEncoder", textFeeds());
      expect(out.textFeatures.dims[1]).toBe(32);
      // this one folds a shape constant at load, which onnxruntime would look for in the working directory
      const pixels = new ort.Tensor("float32", new Float32Array(3 * 336 * 336), [1, 3, 336, 336]);
      expect((await engine.run("trackerVisionEncoder", { pixels })).emb0.type).toBe("float32");
    } finally {
      await engine.close();
    }
  });
});
