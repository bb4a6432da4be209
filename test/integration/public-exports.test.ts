import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rewriteOnnx } from "../../bench/onnx-rewrite";
import { Sam3Error } from "../../core/errors";
import { fetchablePreset, fetchPreset, presetVariant } from "../../core/models/fetch";
import type { Preset } from "../../core/pack/presets";
import { openPack } from "../../core/pack/open";
import { Sam3 } from "../../core/sam3";
import { Sam3VideoPredictor } from "../../core/video/predictor";
import { cliWithEnv } from "../support/cli";
import { publicPacks } from "../support/public-packs";
import { REPO, SCENE } from "../support/reference";
import { makeVideo, squares, type SyntheticVideo } from "../support/synthetic-video";

/**
 * The public exports' layouts, made from the tiny 1008 pack by the project's exporter (test/support/public-packs
 * builds them once per run): served from a local host, installed by the real `models fetch`, then run through
 * every capability they claim.
 */
const packs = publicPacks();
const scratch = mkdtempSync(join(tmpdir(), "sam3-public-"));
const models = join(scratch, "models");
const BOX = { box: [80, 90, 240, 250] as [number, number, number, number] };
const CLICK = { x: 160, y: 170 };

/** Serves folders like a model host: GET <mount>/<path> answers the file under that folder. */
class Host {
  private server?: Server;
  base = "";
  readonly served: string[] = [];
  constructor(private readonly mounts: Record<string, string[]>) {}

  async start() {
    this.server = createServer((req, res) => {
      const [, mount, ...rest] = decodeURIComponent(req.url!.split("?")[0]).split("/");
      const path = normalize(rest.join("/"));
      const file = (this.mounts[mount] ?? []).map((dir) => join(dir, path)).find((f) => !path.startsWith("..") && existsSync(f) && statSync(f).isFile());
      if (!file) return res.writeHead(404).end();
      this.served.push(`${mount}/${path}`);
      res.end(readFileSync(file));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.base = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  close() {
    this.server?.close();
  }
}

const host = new Host({
  community: [packs.onnxCommunity],
  usls: [packs.usls],
  // the detector of one export and the tracker of another, served as the one pack they install as
  mixed: [packs.usls, packs.onnxCommunity],
  // a graph whose external weights leave its folder
  escape: [join(scratch, "escape")],
});

const fetchAndVerify = async (preset: string, mount: string, dtype: string) => {
  const env = { SAM3_MODELS_DIR: models };
  const fetched = await cliWithEnv(env, "models", "fetch", preset, "--dtype", dtype, "--base-url", `${host.base}/${mount}/`);
  expect(fetched.code, fetched.stderr).toBe(0);
  const verified = await cliWithEnv(env, "models", "verify", preset);
  expect(verified.code, verified.stderr).toBe(0);
  return verified.stdout;
};

beforeAll(() => host.start());
afterAll(() => {
  host.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("public exports, fetched and verified through every capability they claim", () => {
  it("the onnx-community tracker in every transformers.js precision: clicks, box, video by box prompts", async () => {
    for (const dtype of ["fp16", "q8", "int8", "uint8", "q4", "q4f16", "bnb4"]) {
      const out = await fetchAndVerify("onnx-community-sam3-tracker", "community", dtype);
      expect(out, dtype).toMatch(/open[\s\S]*click[\s\S]*box[\s\S]*video, 3 frames\s+\d+ ms\s+3 frame\(s\)/);
      expect(out).toContain("can do: clicks, box prompts, video tracking (box prompts)");
      expect(out).not.toContain("clicks + previous mask");
      rmSync(join(models, "onnx-community-sam3-tracker"), { recursive: true });
    }
  });

  it("checks the published sha256 of the float32 files: other bytes are refused and removed", async () => {
    const fetched = await cliWithEnv({ SAM3_MODELS_DIR: models }, "models", "fetch", "onnx-community-sam3-tracker", "--base-url", `${host.base}/community/`);
    expect(fetched.code).toBe(1);
    expect(fetched.stderr).toMatch(/vision_encoder\.onnx has sha256 [0-9a-f]{64}, expected 9f284aab/);
    expect(existsSync(join(models, "onnx-community-sam3-tracker", "onnx", "vision_encoder.onnx"))).toBe(false);
  });

  it("usls's release in one pack, float32 and fp16: text, exemplar box, click, box and video", async () => {
    for (const dtype of ["fp32", "fp16"]) {
      const out = await fetchAndVerify("usls-sam3", "usls", dtype);
      for (const stage of ["text prompt", "exemplar box", "click", "box", "video, 3 frames"]) expect(out, `${dtype} ${stage}`).toContain(stage);
      expect(out).toContain("can do: text prompts, exemplar boxes, clicks, box prompts, video tracking (box prompts), text prompts on video");
    }
  });

  it("a detector from usls and a tracker from onnx-community install as one pack", async () => {
    const out = await fetchAndVerify("sam3-usls-detector-onnx-community-tracker", "mixed", "q8");
    for (const stage of ["text prompt", "exemplar box", "click", "box", "video, 3 frames"]) expect(out).toContain(stage);
  });
});

describe("weights files a downloaded graph names", () => {
  const listed = (mount: string, paths: string[]): Preset => {
    const base = fetchablePreset("onnx-community-sam3-tracker");
    const fp16 = presetVariant(base, "fp16");
    return { ...base, variants: [{ ...fp16, files: paths.map((path) => ({ path, url: `${host.base}/${mount}/${path}` })) }] };
  };

  it("are fetched beside the graph even when the list leaves them out", async () => {
    const dir = join(scratch, "unlisted");
    const graphs = presetVariant(fetchablePreset("onnx-community-sam3-tracker"), "fp16").files.map((f) => f.path).filter((p) => p.endsWith(".onnx"));
    await fetchPreset(listed("community", graphs), { dir });
    for (const graph of graphs) expect(existsSync(join(dir, `${graph}_data`)), graph).toBe(true);
    expect(openPack(dir).capabilities.clicks).toBe(true);
  });

  it("are refused when they lie outside the graph's folder", async () => {
    mkdirSync(join(scratch, "escape", "onnx"), { recursive: true });
    // any graph will do: only the download is tried
    const source = readFileSync(join(REPO, "models", "sam3-tiny-1008", "onnx", "tracker_decoder.onnx"));
    writeFileSync(join(scratch, "escape", "onnx", "prompt_encoder_mask_decoder_fp16.onnx"), rewriteOnnx(source, {}, "../outside.onnx_data").model);
    const e = await fetchPreset(listed("escape", ["onnx/prompt_encoder_mask_decoder_fp16.onnx"]), { dir: join(scratch, "escaped") }).catch((err: unknown) => err);
    expect((e as Sam3Error).code).toBe("DOWNLOAD_FAILED");
    expect((e as Sam3Error).message).toMatch(/names a weights file outside its folder/);
    expect(host.served.some((path) => path.includes("outside"))).toBe(false);
  });
});

describe("a tracker without a mask input (onnx-community layout)", () => {
  let sam: Sam3;
  beforeAll(async () => {
    sam = await Sam3.open({ model: packs.onnxCommunity });
  });
  afterAll(() => sam.close());

  it("answers text with MISSING_CAPABILITY naming a preset that has it", async () => {
    const e = await sam.segment(SCENE, { text: "circle" }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(Sam3Error);
    expect((e as Sam3Error).code).toBe("MISSING_CAPABILITY");
    expect((e as Sam3Error).message).toMatch(/cannot do text prompts: it needs a detector.*the preset usls-sam3 has it/);
  });

  it("refines by the clicks alone when given a previous mask, and says so", async () => {
    const first = await sam.segment(SCENE, { points: [CLICK] });
    const clicks = [CLICK, { x: 60, y: 60, positive: false }];
    const refined = await sam.segment(SCENE, { points: clicks, maskInput: first.lowResMask });
    const plain = await sam.segment(SCENE, { points: clicks });
    expect(refined.warnings).toEqual([expect.stringMatching(/takes no mask prompt: the clicks ran without the previous mask/)]);
    expect(refined.objects[0].mask.data).toEqual(plain.objects[0].mask.data);
  });

  it("tracks an object through 30 frames by box prompts from the previous mask", async () => {
    const video: SyntheticVideo = { width: 320, height: 240, frames: 30, fps: 10 };
    const clip = await makeVideo(join(scratch, "squares.mp4"), video);
    // random weights put the object score near 0 either side: count every mask as visible
    const predictor = await Sam3VideoPredictor.open({ model: packs.onnxCommunity, rules: { presenceThreshold: 0 } });
    try {
      const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
      const [x1, y1, x2, y2] = squares(video, 0).red;
      await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [[(x1 + x2) / 2 / 320, (y1 + y2) / 2 / 240]], point_labels: [1] });
      const frames: number[] = [];
      for await (const frame of predictor.handleStreamRequest({ type: "propagate_in_video", session_id })) {
        expect(frame.outputs.out_obj_ids, `frame ${frame.frame_index}`).toEqual([1]);
        frames.push(frame.frame_index);
      }
      expect(frames).toEqual([...Array(30).keys()]);
    } finally {
      await predictor.close();
    }
  });
});

describe("prompts as the reference feeds them, on the public layouts", () => {
  it("a box alone reaches a decoder with its own box input with zero points: HF's three candidates", async () => {
    const ref = JSON.parse(readFileSync(join(REPO, "test", "reference", "sam3-tiny-1008", "reference_tracker.json"), "utf8"));
    const sam = await Sam3.open({ model: packs.onnxCommunity });
    try {
      const result = await sam.segment(SCENE, { boxes: [BOX] }, { multimask: true, minRegionArea: 0 });
      const ious: number[] = ref.box_only.iou_scores.flat(2);
      result.candidates!.forEach((c, i) => expect(Math.abs(c.score - ious[i])).toBeLessThan(1e-4));
    } finally {
      await sam.close();
    }
  });

  it("opens with the same layouts copied into a pack of another name (detection is by file layout)", () => {
    const copy = join(scratch, "copy");
    mkdirSync(copy);
    cpSync(packs.onnxCommunity, copy, { recursive: true });
    expect(openPack(copy).manifest.name).toBe("onnx-community-sam3-tracker");
  });
});
