import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPack } from "../../core/pack/open";
import { Sam3 } from "../../core/sam3";
import { writeOnnxCommunityTracker } from "../../bench/onnx-community-fixture";
import { rewriteOnnx } from "../../bench/onnx-rewrite";
import { REPO, SCENE } from "../support/reference";

/** The 1008 pack (the real input size the public exports have), re-laid out as each public export is. */
const PACK = join(REPO, "models", "sam3-tiny-1008");
const scratch = mkdtempSync(join(tmpdir(), "sam3-layouts-"));

function write(dir: string, file: string, source: string, renames: Record<string, string>, dataFile?: string) {
  const { model, data } = rewriteOnnx(readFileSync(join(PACK, source)), renames, dataFile);
  mkdirSync(join(dir, file, ".."), { recursive: true });
  writeFileSync(join(dir, file), model);
  if (dataFile) writeFileSync(join(dir, file, "..", dataFile), data!);
}

const communityTracker = join(scratch, "onnx-community-sam3-tracker");
const uslsImage = join(scratch, "usls-sam3-image");

beforeAll(() => {
  // onnx-community/sam3-tracker-ONNX: dotted embedding names, weights in .onnx_data files
  writeOnnxCommunityTracker(PACK, communityTracker);
  // usls sam3-image v2: `images` in, one decoder that always takes boxes
  write(uslsImage, "vision-encoder.onnx", "onnx/vision_encoder.onnx", { pixel_values: "images" });
  write(uslsImage, "text-encoder.onnx", "onnx/text_encoder.onnx", {});
  write(uslsImage, "geo-encoder-mask-decoder.onnx", "onnx/detector_decoder_boxes.onnx", {});
  copyFileSync(join(PACK, "tokenizer.json"), join(uslsImage, "tokenizer.json"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const clicks = [{ x: 160, y: 170 }, { x: 460, y: 160, positive: false }];

async function segmentWith(model: string, prompt: Parameters<Sam3["segment"]>[1]) {
  const sam = await Sam3.open({ model });
  try {
    return await sam.segment(SCENE, prompt, { threshold: 0, minRegionArea: 0, maxObjects: 5, multimask: true });
  } finally {
    await sam.close();
  }
}

describe("the public ONNX export layouts open through the same loader", () => {
  it("onnx-community tracker: dotted names and external weights, no manifest, same masks as the bundled pack", async () => {
    const pack = openPack(communityTracker);
    expect(pack.manifest.name).toBe("onnx-community-sam3-tracker");
    expect([pack.capabilities.text, pack.capabilities.clicks]).toEqual([false, true]);
    const theirs = await segmentWith(communityTracker, { points: clicks });
    const ours = await segmentWith(PACK, { points: clicks });
    expect(theirs.candidates).toEqual(ours.candidates);
    expect(theirs.objects[0].mask.data).toEqual(ours.objects[0].mask.data);
  });

  it("onnx-community tracker by preset name, from the installed-models folder", async () => {
    process.env.SAM3_MODELS_DIR = scratch;
    try {
      expect(openPack("onnx-community-sam3-tracker").dir).toBe(communityTracker);
    } finally {
      delete process.env.SAM3_MODELS_DIR;
    }
  });

  it("usls sam3-image: text alone through the box-taking decoder, and text with an exemplar box as the bundled pack", async () => {
    const pack = openPack(uslsImage);
    expect([pack.capabilities.text, pack.capabilities.clicks]).toEqual([true, false]);
    const textOnly = await segmentWith(uslsImage, { text: "red circle" });
    expect(textOnly.objects).toHaveLength(5);
    const prompt = { text: "red circle", boxes: [{ box: [80, 90, 240, 250] as [number, number, number, number] }] };
    const theirs = await segmentWith(uslsImage, prompt);
    const ours = await segmentWith(PACK, prompt);
    expect(theirs.objects.map((o) => o.score)).toEqual(ours.objects.map((o) => o.score));
  });
});
