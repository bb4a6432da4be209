import { mkdtempSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { openPack } from "../../core/pack/open";
import { readTrackerConstants } from "../../core/pack/tracker-constants";
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
    "constants-dotdot",
    "constants-absolute",
    "constants-data-dotdot",
    "constants-data-symlink",
  ])("%s: a file outside the pack is refused", (id) => {
    const e = openFailure(id);
    expect(e.code).toBe("PATH_NOT_ALLOWED");
    expect(e.message).toMatch(/outside the pack folder/);
    expect(e.message).not.toContain(root.replace(/\/[^/]+$/, "") + "/secret");
  });

  it("opens a pack with a valid tracker-constants index and reads its values", () => {
    const pack = openPack(packs["constants-valid"]);
    expect(pack.manifest.roles.trackerConstants).toMatchObject({ file: "onnx/tracker_constants.json", data: ["onnx/tracker_constants.bin"] });
    const { tensors, config } = readTrackerConstants(pack);
    expect(tensors.noMemEmbed).toEqual({ shape: [1, 1, 4], data: Float32Array.from([0.5, 1.5, 2.5, 3.5]) });
    expect(tensors.maskmemTposEnc).toEqual({ shape: [2, 1, 1, 2], data: Float32Array.from([4.5, 5.5, 6.5, 7.5]) });
    expect(config).toEqual({ num_maskmem: 2, hidden_size: 4 });
  });

  it("checks the constants again when they are read: a data file cut short after open is PACK_INVALID", () => {
    const pack = openPack(packs["constants-cut"]);
    truncateSync(join(packs["constants-cut"], "onnx", "tracker_constants.bin"), 20);
    const e = (() => {
      try {
        readTrackerConstants(pack);
      } catch (error) {
        return error as Sam3Error;
      }
    })();
    expect(e).toBeInstanceOf(Sam3Error);
    expect(e!.code).toBe("PACK_INVALID");
    expect(e!.message).toMatch(/past the end of onnx\/tracker_constants.bin \(20 bytes\)/);
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
    ["constants-index-names-outside", /trackerConstants.*invalid index: file:/],
    ["constants-index-names-other-file", /trackerConstants.*not the one the manifest lists/],
    ["constants-not-json", /trackerConstants.*not valid JSON/],
    ["constants-index-huge", /trackerConstants.*over 1 MiB/],
    ["constants-index-array", /trackerConstants.*invalid index: the whole file/],
    ["constants-wrong-dtype", /trackerConstants.*invalid index: dtype:/],
    ["constants-wrong-byte-order", /trackerConstants.*invalid index: byteOrder:/],
    ["constants-huge-shape", /tensor "no_mem_embed" has shape \[1000000, 1000000, 1000000\]/],
    ["constants-huge-dimension", /invalid index: tensors.no_mem_embed.shape.0:/],
    ["constants-deep-shape", /invalid index: tensors.no_mem_embed.shape:/],
    ["constants-negative-offset", /invalid index: tensors.no_mem_embed.offset:/],
    ["constants-length-mismatch", /tensor "no_mem_embed" .* a length of 12 bytes/],
    ["constants-offset-past-end", /tensor "maskmem_tpos_enc" .* past the end of onnx\/tracker_constants.bin \(32 bytes\)/],
    ["constants-too-many-tensors", /more than 64 tensors/],
    ["constants-secret-tensor-name", /invalid index: tensors.\(a name that is not shown\)/],
    ["constants-missing-tensor", /maps noObjPtr to tensor "no_obj_ptr", which the index does not hold/],
    ["constants-unknown-name", /roles.trackerConstants.outputs/],
    ["constants-config-object", /invalid index: config.nested:/],
    ["constants-data-fifo", /tracker_constants.bin is not a regular file/],
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
