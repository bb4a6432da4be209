import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeImage, type RgbImage } from "../../core/image/decode";
import { toPixelTensor } from "../../core/image/preprocess";
import { openPack } from "../../core/pack/open";
import { Engine } from "../../core/runtime/engine";
import { Sam3, type SegmentResult } from "../../core/sam3";
import { Sam3VideoPredictor } from "../../core/video/predictor";
import { packCopy } from "../security/pack-files";
import { maxAbsDiff, PACKS, REPO, SCENE } from "../support/reference";
import { makeVideo } from "../support/synthetic-video";

/**
 * The backbone graph: one ViT pass gives both heads their image features. Real onnxruntime on the bundled packs,
 * whose graphs all come from one video model, so the backbone must equal the two separate encoders.
 */

const scratch = mkdtempSync(join(tmpdir(), "sam3-backbone-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const clicks = [{ x: 160, y: 170 }, { x: 460, y: 160, positive: false }];
let images = 0;
/** The scene under a cache key no other request used: its features are computed afresh. */
const freshScene = async (): Promise<RgbImage> => ({ ...(await decodeImage(SCENE)), key: `backbone-test-${images++}` });

describe.each(PACKS)("%s: backbone", (name) => {
  it("gives the vision encoder's and the tracker vision encoder's outputs (max abs diff <= 1e-5)", async () => {
    const pack = openPack(name);
    const engine = new Engine(pack);
    try {
      const pixels = toPixelTensor(await decodeImage(SCENE), pack.manifest.imageSize, pack.manifest.normalize);
      const backbone = await engine.run("backbone", { pixels });
      const detector = await engine.run("visionEncoder", { pixels });
      const tracker = await engine.run("trackerVisionEncoder", { pixels });
      for (const [outputs, keys] of [[detector, ["feat0", "feat1", "feat2", "pos2"]], [tracker, ["emb0", "emb1", "emb2"]]] as const) {
        for (const key of keys) {
          expect(backbone[key].dims, key).toEqual(outputs[key].dims);
          expect(maxAbsDiff(backbone[key].data as Float32Array, outputs[key].data as Float32Array), key).toBeLessThanOrEqual(1e-5);
        }
      }
    } finally {
      await engine.close();
    }
  });
});

describe("one ViT pass per image", () => {
  let withBackbone: Sam3;
  let separate: Sam3;
  beforeAll(async () => {
    withBackbone = await Sam3.open({ model: "sam3-tiny-336" });
    const original = join(REPO, "models", "sam3-tiny-336");
    separate = await Sam3.open({ model: packCopy(join(scratch, "no-backbone"), (m) => delete m.roles.backbone, original) });
  });
  afterAll(async () => {
    await withBackbone.close();
    await separate.close();
  });

  async function textAndClick(sam: Sam3) {
    const image = await freshScene();
    const before = sam.vitPasses;
    const text = await sam.segment(image, { text: "red circle" }, { threshold: 0 });
    // all three candidates: both packs have the decoder that gives them (only one has the single-mask decoder)
    const click = await sam.segment(image, { points: clicks }, { multimask: true });
    return { text, click, passes: sam.vitPasses - before };
  }

  /** Scores within float noise, and masks that differ in at most a few pixels (logits near 0 may flip). */
  function expectSameResults(a: SegmentResult, b: SegmentResult) {
    expect(a.objects.length).toBe(b.objects.length);
    a.objects.forEach((o, i) => {
      const other = b.objects[i];
      expect(o.score).toBeCloseTo(other.score, 4);
      o.box.forEach((v, k) => expect(v).toBeCloseTo(other.box[k], 1));
      const differ = o.mask.data.reduce((n, v, p) => n + (v !== other.mask.data[p] ? 1 : 0), 0);
      expect(differ).toBeLessThanOrEqual(o.mask.data.length * 1e-4);
    });
  }

  it("runs the backbone once for a text prompt and a click on one image, and says so in the timings", async () => {
    const { text, click, passes } = await textAndClick(withBackbone);
    expect(passes).toBe(1);
    expect(text.timings).toMatchObject({ vitPasses: 1 });
    expect(text.timings).toHaveProperty("backbone");
    expect(click.timings).toMatchObject({ vitPasses: 0 });
    expect(click.timings).not.toHaveProperty("backbone");
    expect(click.timings).not.toHaveProperty("trackerVisionEncoder");
  });

  it("gives the results of the separate encoders, which take two ViT passes", async () => {
    const one = await textAndClick(withBackbone);
    const two = await textAndClick(separate);
    expect(two.passes).toBe(2);
    expect([two.text.timings.vitPasses, two.click.timings.vitPasses]).toEqual([1, 1]);
    expect(two.click.timings).toHaveProperty("trackerVisionEncoder");
    expectSameResults(one.text, two.text);
    expectSameResults(one.click, two.click);
    expect(one.click.candidates!.map((c) => c.score)).toEqual(two.click.candidates!.map((c) => expect.closeTo(c.score, 4)));
  });
});

describe("video predictor with a backbone", () => {
  const CLIP = { width: 160, height: 120, frames: 6, fps: 10 };
  let predictor: Sam3VideoPredictor;
  let clip: string;
  beforeAll(async () => {
    clip = await makeVideo(join(scratch, "clip.mp4"), CLIP);
    predictor = await Sam3VideoPredictor.open({ rules: { presenceThreshold: 0 } });
  });
  afterAll(() => predictor.close());

  it("runs one ViT pass for a frame with a text concept and a clicked object, and one per frame when propagating", async () => {
    await predictor.handleRequest({ type: "start_session", resource_path: clip, session_id: "passes" });
    const before = predictor.sam.vitPasses;
    await predictor.handleRequest({ type: "add_prompt", session_id: "passes", frame_index: 0, text: "square" });
    await predictor.handleRequest({ type: "add_prompt", session_id: "passes", frame_index: 0, obj_id: 7, points: [[0.3, 0.35]], point_labels: [1] });
    expect(predictor.sam.vitPasses - before).toBe(1);
    const frames = [];
    for await (const frame of predictor.handleStreamRequest({ type: "propagate_in_video", session_id: "passes", propagation_direction: "forward" })) frames.push(frame.frame_index);
    expect(frames).toEqual([0, 1, 2, 3, 4, 5]);
    // frame 0's features are still cached: every other frame costs one pass, for the detector and the tracker together
    expect(predictor.sam.vitPasses - before).toBe(CLIP.frames);
    await predictor.handleRequest({ type: "close_session", session_id: "passes" });
  });
});
