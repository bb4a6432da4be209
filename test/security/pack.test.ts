import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { openPack } from "../../core/pack/open";
import { Sam3 } from "../../core/sam3";
import { SCENE } from "../support/reference";
import { hostilePacks, PACK_SECRET } from "./pack-files";

/**
 * Model packs whose manifest, links or graphs point outside the pack, or hold what no pack holds: refused at
 * open with a typed error that quotes no file content, or (a broken tokenizer) at the first text prompt. Real
 * onnxruntime and the real bundled pack; every hostile file is written here.
 */

const root = mkdtempSync(join(tmpdir(), "sam3-pack-sec-"));
let packs: Record<string, string>;
beforeAll(() => {
  packs = hostilePacks(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function openFailure(id: string): Sam3Error {
  const started = performance.now();
  try {
    openPack(packs[id]);
  } catch (e) {
    expect(e).toBeInstanceOf(Sam3Error);
    const error = e as Sam3Error;
    expect(error.message).not.toContain("SECRET");
    expect(error.message).not.toContain("root:x");
    expect(error.message).not.toContain("\n");
    expect(performance.now() - started).toBeLessThan(5000);
    return error;
  }
  throw new Error(`${id} opened`);
}

describe("model pack confinement", () => {
  it.each([
    "tokenizer-dotdot",
    "tokenizer-absolute",
    "tokenizer-symlink",
    "graph-dotdot",
    "graph-symlink",
    "data-dotdot",
    "graph-external-weights-outside",
    "graph-external-weights-absolute",
    "manifest-symlink",
  ])("%s: a file outside the pack is refused", (id) => {
    const e = openFailure(id);
    expect(e.code).toBe("PATH_NOT_ALLOWED");
    expect(e.message).toMatch(/outside the pack folder/);
    expect(e.message).not.toContain(root.replace(/\/[^/]+$/, "") + "/secret");
  });

  it("opens a pack whose files are real files inside it, naming them by real paths inside it", () => {
    const pack = openPack("sam3-tiny-336");
    for (const graph of Object.values(pack.manifest.roles)) expect(graph!.file.startsWith("/") || graph!.file.startsWith("..")).toBe(false);
  });
});

describe("model pack contents", () => {
  it.each([
    ["graph-huge-name", /not a readable ONNX graph/],
    ["graph-text", /not a readable ONNX graph/],
    ["graph-fifo", /not a regular file/],
    ["manifest-not-json", /not valid JSON/],
    ["manifest-huge", /over 1 MiB/],
    ["manifest-array", /invalid manifest/],
    ["image-size-huge", /imageSize/],
    ["image-size-fraction", /imageSize/],
    ["image-size-string", /imageSize/],
    ["image-size-infinite", /imageSize/],
    ["context-length-huge", /contextLength/],
    ["std-zero", /normalize/],
    ["roles-wrong-type", /roles.trackerDecoder/],
  ])("%s is PACK_INVALID", (id, reason) => {
    const e = openFailure(id);
    expect(e.code).toBe("PACK_INVALID");
    expect(e.message).toMatch(reason);
  });

  it.each(["tokenizer-not-json", "tokenizer-wrong-json"])("%s: a broken tokenizer fails the text prompt with PACK_INVALID and quotes none of it", async (id) => {
    const sam = await Sam3.open({ model: packs[id] });
    try {
      const e = await sam.segment(SCENE, { text: "circle" }).then(() => undefined, (error: unknown) => error as Sam3Error);
      expect(e).toBeInstanceOf(Sam3Error);
      expect(e!.code).toBe("PACK_INVALID");
      expect(e!.message).not.toContain(PACK_SECRET.slice(0, 12));
      // the pack's other head still works
      expect((await sam.segment(SCENE, { points: [{ x: 160, y: 170 }] })).objects.length).toBeGreaterThan(0);
    } finally {
      await sam.close();
    }
  });
});
