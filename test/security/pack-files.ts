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

/** A copy of the 336 pack in `dir` with its manifest edited. */
export function packCopy(dir: string, edit: (manifest: any) => void = () => {}): string {
  mkdirSync(join(dir, "onnx"), { recursive: true });
  for (const name of ["tokenizer.json", ...readdirSync(join(ORIGINAL_PACK, "onnx")).map((f) => `onnx/${f}`)]) linkOrCopy(join(ORIGINAL_PACK, name), join(dir, name));
  const manifest = JSON.parse(readFileSync(join(ORIGINAL_PACK, "manifest.json"), "utf8"));
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
  return packs;
}
