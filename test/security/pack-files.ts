// Model packs for the security tests: copies of the bundled 336 pack (hard links where possible) with one thing
// made hostile, written at test time.

import { execFileSync } from "node:child_process";
import { appendFileSync, copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../support/reference";
import { externalWeights, hugeNameGraph } from "./media-files";

export const ORIGINAL_PACK = join(REPO, "models", "sam3-tiny-336");
export const PACK_SECRET = "SECRET-CONTENT root:x:0:0:root:/root:/bin/bash";

/** A file of the pack in another folder: a hard link where the file system allows, else a copy. */
function linkOrCopy(from: string, to: string) {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** A copy of a pack (default the 336 one) in `dir` with its manifest edited. */
export function packCopy(dir: string, edit: (manifest: any) => void = () => {}, original = ORIGINAL_PACK): string {
  mkdirSync(join(dir, "onnx"), { recursive: true });
  for (const name of ["tokenizer.json", ...readdirSync(join(original, "onnx")).map((f) => `onnx/${f}`)]) linkOrCopy(join(original, name), join(dir, name));
  const manifest = JSON.parse(readFileSync(join(original, "manifest.json"), "utf8"));
  edit(manifest);
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}

/** Replaces a pack file by new content (never writing through a hard link into the original). */
function replace(file: string, content: Buffer | string) {
  rmSync(file, { force: true });
  writeFileSync(file, content);
}

/**
 * A small valid tracker-constants index (two tensors, 32 bytes of data) written into a pack, with the manifest
 * entry that maps it; `editIndex` makes it hostile. The pack's own constants files, if any, are replaced.
 */
export function writeConstants(dir: string, editIndex: (index: any) => void = () => {}): { entry: any } {
  const index: any = {
    dtype: "float32",
    byteOrder: "little",
    file: "tracker_constants.bin",
    tensors: { no_mem_embed: { shape: [1, 1, 4], offset: 0, length: 16 }, maskmem_tpos_enc: { shape: [2, 1, 1, 2], offset: 16, length: 16 } },
    config: { num_maskmem: 2, hidden_size: 4 },
  };
  editIndex(index);
  replace(join(dir, "onnx", "tracker_constants.json"), JSON.stringify(index));
  replace(join(dir, "onnx", "tracker_constants.bin"), Buffer.from(Float32Array.from({ length: 8 }, (_, i) => i + 0.5).buffer));
  const entry = { file: "onnx/tracker_constants.json", data: ["onnx/tracker_constants.bin"], inputs: {}, outputs: { noMemEmbed: "no_mem_embed", maskmemTposEnc: "maskmem_tpos_enc" } };
  return { entry };
}

/** Rewrites a pack's manifest. */
function editManifest(dir: string, edit: (manifest: any) => void) {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  edit(manifest);
  replace(join(dir, "manifest.json"), JSON.stringify(manifest));
}

/**
 * Every hostile pack by id, under `root`; `secret` is a file outside every pack holding PACK_SECRET.
 * Expected codes are in the corpus and the pack tests.
 */
export function hostilePacks(root: string): Record<string, string> {
  mkdirSync(root, { recursive: true });
  const secret = join(root, "secret.txt");
  writeFileSync(secret, PACK_SECRET);
  const packs: Record<string, string> = {};
  const make = (id: string, edit?: (manifest: any) => void, after?: (dir: string) => void) => {
    const dir = packCopy(join(root, id), edit);
    after?.(dir);
    packs[id] = dir;
  };
  make("tokenizer-dotdot", (m) => (m.tokenizer.file = "../secret.txt"));
  make("tokenizer-absolute", (m) => (m.tokenizer.file = secret));
  make("tokenizer-symlink", undefined, (dir) => {
    rmSync(join(dir, "tokenizer.json"));
    symlinkSync(secret, join(dir, "tokenizer.json"));
  });
  make("tokenizer-not-json", undefined, (dir) => replace(join(dir, "tokenizer.json"), PACK_SECRET));
  make("tokenizer-wrong-json", undefined, (dir) => replace(join(dir, "tokenizer.json"), JSON.stringify({ secret: PACK_SECRET })));
  make("graph-dotdot", (m) => (m.roles.trackerDecoder.file = "../../secret.txt"));
  make("graph-symlink", undefined, (dir) => {
    rmSync(join(dir, "onnx", "tracker_decoder.onnx"));
    symlinkSync(join(ORIGINAL_PACK, "onnx", "tracker_decoder.onnx"), join(dir, "onnx", "tracker_decoder.onnx"));
  });
  make("data-dotdot", (m) => (m.roles.trackerDecoder.data = ["../../secret.txt"]));
  make("graph-external-weights-outside", undefined, (dir) => {
    const graph = join(dir, "onnx", "tracker_decoder.onnx");
    replace(graph, readFileSync(join(ORIGINAL_PACK, "onnx", "tracker_decoder.onnx")));
    appendFileSync(graph, externalWeights("../../secret.txt"));
  });
  make("graph-external-weights-absolute", undefined, (dir) => {
    const graph = join(dir, "onnx", "tracker_decoder.onnx");
    replace(graph, readFileSync(join(ORIGINAL_PACK, "onnx", "tracker_decoder.onnx")));
    appendFileSync(graph, externalWeights(secret));
  });
  make("graph-huge-name", undefined, (dir) => replace(join(dir, "onnx", "tracker_decoder.onnx"), hugeNameGraph()));
  make("graph-text", undefined, (dir) => replace(join(dir, "onnx", "tracker_decoder.onnx"), PACK_SECRET));
  make("graph-fifo", undefined, (dir) => {
    rmSync(join(dir, "onnx", "tracker_decoder.onnx"));
    execFileSync("mkfifo", [join(dir, "onnx", "tracker_decoder.onnx")]);
  });
  make("manifest-symlink", undefined, (dir) => {
    rmSync(join(dir, "manifest.json"));
    symlinkSync(secret, join(dir, "manifest.json"));
  });
  make("manifest-not-json", undefined, (dir) => replace(join(dir, "manifest.json"), PACK_SECRET));
  make("manifest-huge", undefined, (dir) => replace(join(dir, "manifest.json"), JSON.stringify({ padding: "x".repeat(2 << 20) })));
  make("manifest-array", undefined, (dir) => replace(join(dir, "manifest.json"), "[]"));
  make("image-size-huge", (m) => (m.imageSize = 1e9));
  make("image-size-fraction", (m) => (m.imageSize = 336.5));
  make("image-size-string", (m) => (m.imageSize = "336"));
  make("image-size-infinite", undefined, (dir) => replace(join(dir, "manifest.json"), readFileSync(join(ORIGINAL_PACK, "manifest.json"), "utf8").replace(/"imageSize":\s*\d+/, '"imageSize": 1e999')));
  make("context-length-huge", (m) => (m.tokenizer.contextLength = 1e9));
  make("std-zero", (m) => (m.normalize = { mean: [0.5, 0.5, 0.5], std: [0, 0.5, 0.5] }));
  make("roles-wrong-type", (m) => (m.roles.trackerDecoder = "onnx/tracker_decoder.onnx"));
  // the tracker constants: an index of their own, then one thing made hostile in it, its data file or its entry
  const constants = (id: string, editIndex?: (index: any) => void, editEntry?: (entry: any) => void, after?: (dir: string) => void) =>
    make(id, undefined, (dir) => {
      const { entry } = writeConstants(dir, editIndex);
      editEntry?.(entry);
      editManifest(dir, (m) => (m.roles.trackerConstants = entry));
      after?.(dir);
    });
  constants("constants-valid");
  constants("constants-cut");
  constants("constants-dotdot", undefined, (e) => (e.file = "../../secret.txt"));
  constants("constants-absolute", undefined, (e) => (e.file = secret));
  constants("constants-data-dotdot", undefined, (e) => (e.data = ["../../secret.txt"]));
  constants("constants-data-symlink", undefined, undefined, (dir) => {
    rmSync(join(dir, "onnx", "tracker_constants.bin"));
    symlinkSync(secret, join(dir, "onnx", "tracker_constants.bin"));
  });
  constants("constants-index-names-outside", (i) => (i.file = "../../secret.txt"), (e) => (e.data = []));
  constants("constants-index-names-other-file", (i) => (i.file = "tracker_decoder.onnx"));
  constants("constants-not-json", undefined, undefined, (dir) => replace(join(dir, "onnx", "tracker_constants.json"), PACK_SECRET));
  constants("constants-index-huge", (i) => (i.config = { padding: "x".repeat(2 << 20) }));
  constants("constants-index-array", undefined, undefined, (dir) => replace(join(dir, "onnx", "tracker_constants.json"), "[]"));
  constants("constants-wrong-dtype", (i) => (i.dtype = "float16"));
  constants("constants-wrong-byte-order", (i) => (i.byteOrder = "big"));
  constants("constants-huge-shape", (i) => (i.tensors.no_mem_embed.shape = [1e6, 1e6, 1e6]));
  constants("constants-huge-dimension", (i) => (i.tensors.no_mem_embed.shape = [2 ** 40]));
  constants("constants-deep-shape", (i) => (i.tensors.no_mem_embed.shape = Array(100).fill(1)));
  constants("constants-negative-offset", (i) => (i.tensors.no_mem_embed.offset = -16));
  constants("constants-length-mismatch", (i) => (i.tensors.no_mem_embed.length = 12));
  constants("constants-offset-past-end", (i) => (i.tensors.maskmem_tpos_enc.offset = 1000));
  constants("constants-too-many-tensors", (i) => {
    for (let k = 0; k < 100; k++) i.tensors[`t${k}`] = { shape: [1], offset: 0, length: 4 };
  });
  constants("constants-secret-tensor-name", (i) => (i.tensors[PACK_SECRET] = { shape: [3], offset: 0, length: 4 }));
  constants("constants-missing-tensor", undefined, (e) => (e.outputs.noObjPtr = "no_obj_ptr"));
  constants("constants-unknown-name", undefined, (e) => (e.outputs.secretTensor = "no_mem_embed"));
  constants("constants-config-object", (i) => (i.config = { nested: { secret: PACK_SECRET } }));
  constants("constants-data-fifo", undefined, undefined, (dir) => {
    rmSync(join(dir, "onnx", "tracker_constants.bin"));
    execFileSync("mkfifo", [join(dir, "onnx", "tracker_constants.bin")]);
  });
  return packs;
}
