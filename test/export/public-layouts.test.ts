import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { PUBLIC_LAYOUTS } from "../../core/pack/layouts";
import { publicPacks } from "../support/public-packs";

/**
 * The fixtures laid out as the public exports (public-packs.setup.ts, from models/export/sam3_export/public_layouts.py)
 * agree with the Node side's view of those layouts (core/pack/layouts.ts): every file of every precision is there,
 * and every graph opens in onnxruntime-node with the tensor names the layout maps.
 */
const FIXTURES = { uslsImage: "usls", uslsTracker: "usls", onnxCommunityTracker: "onnxCommunity" } as const;

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe.each(Object.keys(FIXTURES) as (keyof typeof FIXTURES)[])("public layout fixture: %s", (key) => {
  const layout = PUBLIC_LAYOUTS[key];

  it.each(Object.keys(layout.dtypes))("%s: every file, every graph with the layout's tensor names", async (dtype) => {
    const dir = publicPacks()[FIXTURES[key]];
    const { roles, files } = layout.variant(dtype);
    for (const { path } of files) expect(existsSync(join(dir, path)), path).toBe(true);
    for (const graph of Object.values(roles)) {
      const session = await ort.InferenceSession.create(join(dir, graph!.file), { logSeverityLevel: 3 });
      try {
        expect(session.inputNames).toEqual(expect.arrayContaining(Object.values(graph!.inputs)));
        expect(session.outputNames).toEqual(expect.arrayContaining(Object.values(graph!.outputs)));
      } finally {
        await session.release();
      }
    }
  });
});

it("the fixtures hold no file the layouts do not name but the transformers.js configs", () => {
  const { usls, onnxCommunity } = publicPacks();
  const named = (keys: (keyof typeof PUBLIC_LAYOUTS)[]) =>
    new Set(keys.flatMap((k) => Object.keys(PUBLIC_LAYOUTS[k].dtypes).flatMap((d) => PUBLIC_LAYOUTS[k].variant(d).files.map((f) => f.path))));
  expect(new Set(listFiles(usls))).toEqual(named(["uslsImage", "uslsTracker"]));
  expect(new Set(listFiles(onnxCommunity))).toEqual(
    new Set([...named(["onnxCommunityTracker"]), "config.json", "preprocessor_config.json"]),
  );
});
