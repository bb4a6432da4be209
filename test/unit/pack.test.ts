import { copyFileSync, cpSync, linkSync, symlinkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { openPack } from "../../core/pack/open";
import { readOnnxSignature } from "../../core/pack/onnx-signature";
import { ROLE_NAMES, TRACKER_CONSTANT_NAMES } from "../../core/pack/roles";
import { readTrackerConstants } from "../../core/pack/tracker-constants";
import { REPO } from "../support/reference";
import { retypeInput } from "../../bench/onnx-rewrite";

const ORIGINAL = join(REPO, "models", "sam3-tiny-336");
const scratch = mkdtempSync(join(tmpdir(), "sam3-pack-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A file of the pack in another folder: a hard link where the file system allows, else a copy (a symbolic link would lead out of the pack). */
function linkOrCopy(from: string, to: string) {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

let variants = 0;
/** A copy of the 336 pack made of hard links to its files, with an edited manifest and some files left out. */
function variant(edit: (manifest: any) => void = () => {}, leaveOut: string[] = []): string {
  const dir = join(scratch, `v${variants++}`);
  mkdirSync(join(dir, "onnx"), { recursive: true });
  for (const name of ["tokenizer.json", ...readdirSync(join(ORIGINAL, "onnx")).map((f) => `onnx/${f}`)]) {
    if (!leaveOut.includes(name)) linkOrCopy(join(ORIGINAL, name), join(dir, name));
  }
  const manifest = JSON.parse(readFileSync(join(ORIGINAL, "manifest.json"), "utf8"));
  edit(manifest);
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}

function failure(ref: string): Sam3Error {
  try {
    openPack(ref);
  } catch (e) {
    expect(e).toBeInstanceOf(Sam3Error);
    return e as Sam3Error;
  }
  throw new Error(`${ref} opened`);
}

describe("model packs", () => {
  it("opens both bundled packs by preset name, with both heads", () => {
    for (const name of ["sam3-tiny-336", "sam3-tiny-1008"]) {
      const pack = openPack(name);
      expect(pack.manifest.name).toBe(name);
      expect(pack.capabilities.text && pack.capabilities.clicks).toBe(true);
    }
    expect(openPack("sam3-tiny-1008").manifest.imageSize).toBe(1008);
  });

  it("opens every role of a complete pack in both bundled packs: the video graphs and the tracker constants", () => {
    for (const name of ["sam3-tiny-336", "sam3-tiny-1008"]) {
      const roles = Object.keys(openPack(name).manifest.roles).sort();
      expect(roles).toEqual([...ROLE_NAMES, "trackerConstants"].sort());
    }
  });

  it("reads the tracker constants by logical name, as float32 values of the data file", () => {
    const pack = openPack("sam3-tiny-336");
    const { tensors, config } = readTrackerConstants(pack);
    expect(Object.keys(tensors).sort()).toEqual([...TRACKER_CONSTANT_NAMES].sort());
    const index = JSON.parse(readFileSync(join(ORIGINAL, "onnx", "tracker_constants.json"), "utf8"));
    const bin = readFileSync(join(ORIGINAL, "onnx", index.file));
    for (const [key, name] of Object.entries(pack.manifest.roles.trackerConstants!.outputs)) {
      const { shape, data } = tensors[key as keyof typeof tensors]!;
      const { offset, length } = index.tensors[name];
      expect(shape).toEqual(index.tensors[name].shape);
      expect(data.length).toBe(shape.reduce((n, d) => n * d, 1));
      expect(Buffer.from(data.buffer)).toEqual(bin.subarray(offset, offset + length));
    }
    expect(tensors.noMemEmbed!.data.length).toBe(config.hidden_size);
    expect(tensors.maskmemTposEnc!.shape[0]).toBe(config.num_maskmem);
  });

  it("lets a backbone stand in for both vision encoders", () => {
    const pack = openPack(variant((m) => {
      delete m.roles.visionEncoder;
      delete m.roles.trackerVisionEncoder;
    }, ["onnx/vision_encoder.onnx", "onnx/tracker_vision_encoder.onnx"]));
    expect([pack.capabilities.text, pack.capabilities.clicks]).toEqual([true, true]);
    const neither = failure(variant((m) => {
      for (const role of ["visionEncoder", "trackerVisionEncoder", "backbone"]) delete m.roles[role];
    }));
    expect(neither.message).toContain("neither a complete detector");
  });

  it("names the role, the file and the tensor when a video graph does not match its manifest entry", () => {
    const backbone = failure(variant((m) => (m.roles.backbone.outputs.emb2 = "image_embeddings.2")));
    expect(backbone.message).toMatch(/role backbone \(onnx\/backbone.onnx\): output tensor "image_embeddings.2" \(emb2\) is not in the graph/);
    const attention = failure(variant((m) => delete m.roles.memoryAttention.inputs.pointerMaxOffset));
    expect(attention.message).toMatch(/memoryAttention \(onnx\/memory_attention.onnx\).*"pointerMaxOffset"/);
    const encoder = failure(variant(undefined, ["onnx/memory_encoder.onnx"]));
    expect(encoder.message).toMatch(/memoryEncoder.*onnx\/memory_encoder.onnx is missing/);
    // the image decoder's graph in the video decoder's place: caught by the output it lacks
    const swapped = failure(variant((m) => (m.roles.videoTrackerDecoder.file = "onnx/tracker_decoder.onnx")));
    expect(swapped.message).toMatch(/videoTrackerDecoder \(onnx\/tracker_decoder.onnx\): output tensor "object_pointers" \(objectPointers\)/);
  });

  it("reads a graph's tensor names, element types and shapes without loading it", () => {
    const signature = readOnnxSignature(join(ORIGINAL, "onnx", "tracker_decoder.onnx"));
    expect(signature).toMatchObject({
      inputs: ["image_embeddings_0", "image_embeddings_1", "image_embeddings_2", "input_points", "input_labels"],
      outputs: ["iou_scores", "pred_masks", "object_score_logits"],
    });
    expect(signature.tensors.input_labels.type).toBe("int64");
    expect(signature.tensors.input_points).toMatchObject({ type: "float32" });
    expect(signature.tensors.input_points.dims).toHaveLength(4);
    expect(signature.tensors.image_embeddings_2.dims?.slice(1)).toEqual([64, 24, 24]);
    expect(signature.tensors.pred_masks.type).toBe("float32");
  });

  it("names the role and the file when a graph file is missing", () => {
    const e = failure(variant(undefined, ["onnx/tracker_decoder.onnx"]));
    expect(e.code).toBe("PACK_INVALID");
    expect(e.message).toContain("trackerDecoder");
    expect(e.message).toContain("onnx/tracker_decoder.onnx");
  });

  it("names the role, the file and the tensor when a tensor name does not match", () => {
    const e = failure(variant((m) => (m.roles.detectorDecoder.inputs.textMask = "attention")));
    expect(e.message).toContain("detectorDecoder");
    expect(e.message).toContain("onnx/detector_decoder.onnx");
    expect(e.message).toContain('"attention"');
    const out = failure(variant((m) => (m.roles.trackerVisionEncoder.outputs.emb1 = "image_embeddings.1")));
    expect(out.message).toContain('output tensor "image_embeddings.1"');
  });

  it("reports a manifest that maps no tensor for a required input", () => {
    const e = failure(variant((m) => delete m.roles.visionEncoder.inputs.pixels));
    expect(e.message).toMatch(/visionEncoder.*"pixels"/);
  });

  it("reports invalid manifests and graphs", () => {
    expect(failure(variant((m) => (m.imageSize = -3))).message).toContain("imageSize");
    const broken = variant();
    writeFileSync(join(broken, "manifest.json"), "{ not json");
    expect(failure(broken).message).toContain("unreadable manifest.json");
    const truncated = variant(undefined, ["onnx/text_encoder.onnx"]);
    writeFileSync(join(truncated, "onnx", "text_encoder.onnx"), readFileSync(join(ORIGINAL, "onnx", "text_encoder.onnx")).subarray(0, 5000));
    expect(failure(truncated).message).toMatch(/textEncoder.*not a readable ONNX graph/);
  });

  it("needs the tokenizer only for the detector", () => {
    expect(failure(variant(undefined, ["tokenizer.json"])).message).toContain("tokenizer");
    const trackerOnly = variant((m) => {
      for (const role of ["visionEncoder", "textEncoder", "detectorDecoder", "detectorDecoderBoxes"]) delete m.roles[role];
    }, ["tokenizer.json"]);
    const pack = openPack(trackerOnly);
    expect([pack.capabilities.text, pack.capabilities.clicks]).toEqual([false, true]);
  });

  it("refuses a pack with no complete head", () => {
    expect(failure(variant((m) => (m.roles = { textEncoder: m.roles.textEncoder }))).message).toContain("neither a complete detector");
  });

  it("tells unknown presets from folders, and says where a known one belongs", () => {
    const unknown = failure("no-such-model");
    expect(unknown.code).toBe("UNKNOWN_PRESET");
    expect(unknown.message).toContain("sam3-tiny-336");
    process.env.SAM3_MODELS_DIR = scratch;
    try {
      const missing = failure("onnx-community-sam3-tracker");
      expect(missing.code).toBe("PACK_INVALID");
      expect(missing.message).toContain(join(scratch, "onnx-community-sam3-tracker"));
    } finally {
      delete process.env.SAM3_MODELS_DIR;
    }
  });

  it("recognises a public export layout without a manifest and checks its tensor names", () => {
    // the community tracker's file names, holding graphs with this project's tensor names
    const dir = join(scratch, "community");
    mkdirSync(join(dir, "onnx"), { recursive: true });
    linkOrCopy(join(ORIGINAL, "onnx", "tracker_vision_encoder.onnx"), join(dir, "onnx", "vision_encoder.onnx"));
    linkOrCopy(join(ORIGINAL, "onnx", "tracker_decoder.onnx"), join(dir, "onnx", "prompt_encoder_mask_decoder.onnx"));
    for (const f of ["vision_encoder.onnx_data", "prompt_encoder_mask_decoder.onnx_data"]) writeFileSync(join(dir, "onnx", f), "");
    const e = failure(dir);
    expect(e.message).toContain("trackerVisionEncoder");
    expect(e.message).toContain('"image_embeddings.0"');
    rmSync(join(dir, "onnx", "vision_encoder.onnx_data"));
    expect(failure(dir).message).toContain("onnx/vision_encoder.onnx_data is missing");
  });

  it("checks each tensor's element type and the image size at open, naming what the pipeline feeds", () => {
    const size = failure(variant((m) => (m.imageSize = 1008)));
    expect(size.message).toMatch(/input "pixel_values" takes float32 \[.*3, 336, 336\] images; the manifest's imageSize is 1008/);
    const uint8 = variant(undefined, ["onnx/tracker_vision_encoder.onnx"]);
    writeFileSync(join(uint8, "onnx", "tracker_vision_encoder.onnx"), retypeInput(readFileSync(join(ORIGINAL, "onnx", "tracker_vision_encoder.onnx")), "pixel_values", 2));
    expect(failure(uint8).message).toMatch(/trackerVisionEncoder .*input "pixel_values" \(pixels\) is uint8 .*the pipeline feeds float32 or float16 pixels normalised outside the graph/);
    const floatLabels = variant(undefined, ["onnx/tracker_decoder.onnx"]);
    writeFileSync(join(floatLabels, "onnx", "tracker_decoder.onnx"), retypeInput(readFileSync(join(ORIGINAL, "onnx", "tracker_decoder.onnx")), "input_labels", 1));
    expect(failure(floatLabels).message).toMatch(/input "input_labels" \(labels\) is float32 .*feeds int64 or int32/);
  });

  it("reads roles from a sibling pack in the same models folder, and from nowhere else", () => {
    const models = join(scratch, "models");
    mkdirSync(join(models, "tracker", "onnx"), { recursive: true });
    for (const f of ["tracker_vision_encoder.onnx", "tracker_decoder.onnx"]) linkOrCopy(join(ORIGINAL, "onnx", f), join(models, "tracker", "onnx", f));
    const detector = variant((m) => {
      for (const role of Object.keys(m.roles)) if (!["visionEncoder", "textEncoder", "detectorDecoder"].includes(role)) delete m.roles[role];
      const original = JSON.parse(readFileSync(join(ORIGINAL, "manifest.json"), "utf8")).roles;
      m.roles.trackerVisionEncoder = { ...original.trackerVisionEncoder, pack: "tracker" };
      m.roles.trackerDecoder = { ...original.trackerDecoder, pack: "tracker" };
    });
    const composed = join(models, "composed");
    rmSync(composed, { recursive: true, force: true });
    cpSync(detector, composed, { recursive: true });
    const pack = openPack(composed);
    expect(pack.capabilities).toMatchObject({ text: true, clicks: true, maskRefinement: false, video: "box prompts" });
    expect(pack.manifest.roles.trackerDecoder!.file).toBe(join("..", "tracker", "onnx", "tracker_decoder.onnx"));
    // the sibling must be a folder beside the pack: no path, no link out of the models folder
    const manifest = JSON.parse(readFileSync(join(composed, "manifest.json"), "utf8"));
    manifest.roles.trackerDecoder.pack = "../tracker";
    writeFileSync(join(composed, "manifest.json"), JSON.stringify(manifest));
    expect(failure(composed).message).toMatch(/pack.*folder name/);
    manifest.roles.trackerDecoder.pack = "elsewhere";
    writeFileSync(join(composed, "manifest.json"), JSON.stringify(manifest));
    symlinkSync(join(scratch, "v0"), join(models, "elsewhere"));
    const outside = failure(composed);
    expect(outside.code).toBe("PATH_NOT_ALLOWED");
    expect(outside.message).toMatch(/role trackerDecoder is in the pack elsewhere, which leads outside its models folder/);
    manifest.roles.trackerDecoder.pack = "absent";
    writeFileSync(join(composed, "manifest.json"), JSON.stringify(manifest));
    expect(failure(composed).message).toMatch(/the pack absent, which is not installed beside it/);
  });
});
