import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ObjectJson } from "../../core/export/json";
import { cocoRleToMask } from "../../core/masks/rle";
import { maskArea, maskBox } from "../../core/masks/mask";
import { messagePaths, modelConfig, segmentImageNode, sink, TestFlow, type Msg } from "../support/node-red";
import { SCENE } from "../support/reference";

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const WIDTH = 640;
const HEIGHT = 480;

interface Sam3Info {
  image: { width: number; height: number };
  model: string;
  path: "detector" | "tracker";
  candidates?: { score: number; area: number }[];
  coverage: { area: number; fraction: number };
  warnings: string[];
}


const objectsOf = (msg: Msg) => msg.payload as ObjectJson[];
const infoOf = (msg: Msg) => msg.sam3 as Sam3Info;
const scores = (msg: Msg) => objectsOf(msg).map((o) => o.score);

describe("sam3-segment-image (compiled node, real engine)", () => {
  let flow: TestFlow;
  const scene = readFileSync(SCENE);
  let baseline: Msg; // text "thing" at threshold 0 on the Buffer

  beforeAll(async () => {
    flow = await TestFlow.load([
      modelConfig(),
      modelConfig({ id: "model0", threshold: "0", fineness: "0.5" }),
      segmentImageNode("seg", "out", messagePaths(dirname(SCENE))),
      segmentImageNode("segVisual", "outVisual", { overlay: true, masks: true }),
      segmentImageNode("segProperty", "outProperty", { property: "data.img" }),
      segmentImageNode("segConfigured", "outConfigured", { text: "thing", threshold: "0", points: "", boxes: "" }),
      segmentImageNode("segDefaults", "outDefaults", { model: "model0" }),
      segmentImageNode("segClicks", "outClicks", { points: "320,240; 100,100:neg" }),
      segmentImageNode("segNoModel", "outNoModel", { model: "" }),
      segmentImageNode("segTyped", "outTyped", { property: SCENE, propertyType: "str", text: "thing", threshold: "0" }),
      segmentImageNode("segNoPaths", "outNoPaths"),
      segmentImageNode("segExample", "outExample", { property: "sam3-example:scene.png", propertyType: "str", text: "thing", threshold: "0" }),
      ...["out", "outVisual", "outProperty", "outConfigured", "outDefaults", "outClicks", "outNoModel", "outTyped", "outNoPaths", "outExample"].map(sink),
    ]);
    baseline = await flow.request("seg", { payload: scene, text: "thing", threshold: 0, topic: "kept" }, "out");
  });
  afterAll(() => flow.unload());

  it("msg.sam3.coverage is the union of the masks: overlapping objects count once", () => {
    const covered = new Set<number>();
    for (const o of objectsOf(baseline)) cocoRleToMask(o.rle).data.forEach((v, i) => v && covered.add(i));
    expect(infoOf(baseline).coverage).toEqual({ area: covered.size, fraction: covered.size / (WIDTH * HEIGHT) });
    // the sixteen random masks overlap: the sum of their areas is more than their union
    const summed = objectsOf(baseline).reduce((sum, o) => sum + o.area, 0);
    expect(summed).toBeGreaterThan(covered.size);
    expect(infoOf(baseline).coverage.fraction).toBeLessThanOrEqual(1);
  });

  it("sam3-example:scene.png typed in the node reads the package's demo image", async () => {
    const msg = await flow.request("segExample", { payload: "/etc/passwd" }, "outExample");
    expect(objectsOf(msg)).toEqual(objectsOf(await flow.request("segTyped", { payload: "" }, "outTyped")));
  });

  it("segments a Buffer by text at threshold 0: every query, sorted by score, as {id, score, box, area, rle}", () => {
    const objects = objectsOf(baseline);
    expect(objects).toHaveLength(16); // the 336 pack has 16 queries; random weights score them all ~0.25
    expect(objects.map((o) => Object.keys(o).sort())).toEqual(objects.map(() => ["area", "box", "colour", "id", "label", "rle", "score"]));
    expect(new Set(objects.map((o) => o.label))).toEqual(new Set(["thing"]));
    expect(objects.map((o) => o.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    const s = scores(baseline);
    expect(s).toEqual([...s].sort((a, b) => b - a));
    for (const o of objects) {
      expect(o.score).toBeGreaterThan(0);
      expect(o.score).toBeLessThan(1);
      const [x1, y1, x2, y2] = o.box;
      expect(x1).toBeGreaterThanOrEqual(0);
      expect(y1).toBeGreaterThanOrEqual(0);
      expect(x2).toBeLessThanOrEqual(WIDTH);
      expect(y2).toBeLessThanOrEqual(HEIGHT);
      expect(x2).toBeGreaterThanOrEqual(x1);
      expect(y2).toBeGreaterThanOrEqual(y1);
      expect(o.rle.size).toEqual([HEIGHT, WIDTH]);
      expect(typeof o.rle.counts).toBe("string");
      expect(maskArea(cocoRleToMask(o.rle))).toBe(o.area);
    }
    expect(infoOf(baseline)).toEqual({ image: { width: WIDTH, height: HEIGHT }, model: "sam3-tiny-336", path: "detector", coverage: expect.any(Object), warnings: [] });
    // the message goes on: its other properties stay, nothing is added when overlay / masks are off
    expect(baseline.topic).toBe("kept");
    expect(baseline).not.toHaveProperty("image");
    expect(baseline).not.toHaveProperty("masks");
    expect(flow.lastStatus("seg")).toEqual({ fill: "green", shape: "dot", text: "16 objects" });
  });

  it("msg.text as a list finds several concepts, each object labelled with its concept", async () => {
    const msg = await flow.request("seg", { payload: scene, text: ["thing", "other thing"], threshold: 0 }, "out");
    const labels = objectsOf(msg).map((o) => o.label);
    expect(labels).toEqual([...Array(16).fill("thing"), ...Array(16).fill("other thing")]);
  });

  it("takes the same image as a data URL, base64 text and a file path", async () => {
    const base64 = scene.toString("base64");
    for (const payload of [`data:image/png;base64,${base64}`, base64, SCENE]) {
      const msg = await flow.request("seg", { payload, text: "thing", threshold: 0 }, "out");
      expect(objectsOf(msg)).toEqual(objectsOf(baseline));
    }
  });

  it("a path typed in the node (type string) is read whatever the message holds", async () => {
    const msg = await flow.request("segTyped", { payload: "/etc/passwd" }, "outTyped");
    expect(objectsOf(msg)).toEqual(objectsOf(baseline));
  });

  it("without a folder for message paths (the default) a path in the message is refused, the bytes still work", async () => {
    const error = await flow.failure("segNoPaths", { payload: SCENE, text: "thing" }, ["outNoPaths"]);
    expect(error.code).toBe("PATH_NOT_ALLOWED");
    expect(error.message).toMatch(/takes no file paths from messages/);
    expect(error.message).not.toContain(SCENE);
    const msg = await flow.request("segNoPaths", { payload: scene, text: "thing", threshold: 0 }, "outNoPaths");
    expect(objectsOf(msg)).toEqual(objectsOf(baseline));
  });

  it("reads the image from another property (property: data.img)", async () => {
    const msg = await flow.request("segProperty", { payload: "not an image", data: { img: scene }, text: "thing", threshold: 0 }, "outProperty");
    expect(objectsOf(msg)).toEqual(objectsOf(baseline));
    // and nothing but that property: the payload is not read
    const error = await flow.failure("segProperty", { payload: scene, data: {}, text: "thing", threshold: 0 }, ["outProperty"]);
    expect(error.message).toContain("msg.data.img must hold an image");
  });

  it("msg.threshold keeps only the instances scoring above it; the model's default threshold (0.5) keeps none", async () => {
    const all = scores(baseline);
    // halfway between the 8th and 9th best scores (the JSON rounds scores to 6 digits)
    const cut = (all[7] + all[8]) / 2;
    expect(all[7]).toBeGreaterThan(all[8]);
    const some = await flow.request("seg", { payload: scene, text: "thing", threshold: cut }, "out");
    expect(scores(some)).toEqual(all.slice(0, 8));
    expect(Math.min(...scores(some))).toBeGreaterThan(cut);
    // no msg.threshold, no node threshold: the model node's default (0.5) is above every random-weight score
    const none = await flow.request("seg", { payload: scene, text: "thing" }, "out");
    expect(objectsOf(none)).toEqual([]);
    expect(flow.lastStatus("seg")).toEqual({ fill: "green", shape: "dot", text: "0 objects" });
  });

  it("the model node's threshold and fineness are the defaults of its nodes", async () => {
    const msg = await flow.request("segDefaults", { payload: scene, text: "thing" }, "outDefaults");
    expect(objectsOf(msg)).toHaveLength(16);
    const click = { points: [{ x: 320, y: 240 }] };
    const smooth = await flow.request("segDefaults", { payload: scene, ...click }, "outDefaults");
    const sharpEdged = await flow.request("segDefaults", { payload: scene, ...click, fineness: 0 }, "outDefaults");
    const plain = await flow.request("seg", { payload: scene, ...click }, "out");
    expect(objectsOf(sharpEdged)[0].rle).toEqual(objectsOf(plain)[0].rle);
    expect(objectsOf(smooth)[0].rle).not.toEqual(objectsOf(plain)[0].rle);
  });

  it("msg.text overrides the node's text; the node's text and threshold apply without it", async () => {
    const configured = await flow.request("segConfigured", { payload: scene }, "outConfigured");
    expect(objectsOf(configured)).toEqual(objectsOf(baseline)); // "thing" at threshold 0
    const dogHere = await flow.request("segConfigured", { payload: scene, text: "dog" }, "outConfigured");
    const dogThere = await flow.request("seg", { payload: scene, text: "dog", threshold: 0 }, "out");
    expect(scores(dogHere)).toEqual(scores(dogThere));
    expect(scores(dogHere)).not.toEqual(scores(baseline));
  });

  it("msg.points runs the tracker: one object, the three candidates in msg.sam3", async () => {
    const msg = await flow.request("seg", { payload: scene, points: [{ x: 320, y: 240 }] }, "out");
    const [object, ...rest] = objectsOf(msg);
    expect(rest).toEqual([]);
    expect(object).toMatchObject({ id: 1 });
    expect(object.area).toBe(maskArea(cocoRleToMask(object.rle)));
    const info = infoOf(msg);
    expect(info.path).toBe("tracker");
    expect(info.candidates).toHaveLength(3);
    for (const c of info.candidates!) expect(Object.keys(c).sort()).toEqual(["area", "score"]);
    expect(info.candidates!.map((c) => c.score)).toContain(object.score);
    // the other point forms ([x, y, label] and the text form) and negative points reach the tracker
    const pair = await flow.request("seg", { payload: scene, points: [[320, 240]] }, "out");
    expect(objectsOf(pair)).toEqual(objectsOf(msg));
    const withNegative = await flow.request("seg", { payload: scene, points: [[320, 240, 1], [100, 100, 0]] }, "out");
    const asText = await flow.request("seg", { payload: scene, points: "320,240; 100,100:neg" }, "out");
    expect(objectsOf(asText)).toEqual(objectsOf(withNegative));
    // several clicks give the single-mask output, or the three candidates with msg.multimask
    expect(infoOf(withNegative).candidates).toBeUndefined();
    const all = await flow.request("seg", { payload: scene, points: [[320, 240, 1], [100, 100, 0]], multimask: true }, "out");
    expect(infoOf(all).candidates).toHaveLength(3);
    expect(infoOf(all).candidates).not.toEqual(info.candidates);
  });

  it("msg.points overrides the node's points", async () => {
    const configured = await flow.request("segClicks", { payload: scene }, "outClicks");
    const asText = await flow.request("seg", { payload: scene, points: "320,240; 100,100:neg" }, "out");
    expect(objectsOf(configured)).toEqual(objectsOf(asText));
    const overridden = await flow.request("segClicks", { payload: scene, points: [{ x: 320, y: 240 }] }, "outClicks");
    const single = await flow.request("seg", { payload: scene, points: [{ x: 320, y: 240 }] }, "out");
    expect(infoOf(overridden).candidates).toEqual(infoOf(single).candidates);
    expect(infoOf(overridden).candidates).not.toEqual(infoOf(configured).candidates);
  });

  it("a message's prompt replaces the node's whole prompt: msg.points on a node set up with text runs the tracker", async () => {
    const clicked = await flow.request("segConfigured", { payload: scene, points: [{ x: 320, y: 240 }] }, "outConfigured");
    expect(infoOf(clicked).path).toBe("tracker");
    expect(objectsOf(clicked)).toHaveLength(1);
    const configured = await flow.request("segConfigured", { payload: scene }, "outConfigured");
    expect(infoOf(configured).path).toBe("detector");
  });

  it("msg.boxes: one box alone runs the tracker, boxes with text are the detector's exemplars", async () => {
    const boxed = await flow.request("seg", { payload: scene, boxes: [[200, 150, 440, 330]] }, "out");
    expect(infoOf(boxed).path).toBe("tracker");
    expect(objectsOf(boxed)).toHaveLength(1);
    // a tracker object's box is its mask's tight box
    const [object] = objectsOf(boxed);
    expect(object.box).toEqual(maskBox(cocoRleToMask(object.rle)) ?? [0, 0, 0, 0]);
    const asObject = await flow.request("seg", { payload: scene, boxes: [{ box: [200, 150, 440, 330] }] }, "out");
    expect(objectsOf(asObject)).toEqual(objectsOf(boxed));
    const exemplars = await flow.request("seg", { payload: scene, text: "thing", threshold: 0, boxes: "200,150,440,330; 10,10,100,100:neg" }, "out");
    expect(infoOf(exemplars).path).toBe("detector");
    expect(objectsOf(exemplars)).toHaveLength(16);
    expect(scores(exemplars)).not.toEqual(scores(baseline));
  });

  it("msg.fineness smooths the mask", async () => {
    const click = { payload: scene, points: [{ x: 320, y: 240 }] };
    const fine = await flow.request("seg", { ...click, fineness: 0 }, "out");
    const smooth = await flow.request("seg", { ...click, fineness: 1 }, "out");
    expect(objectsOf(smooth)[0].rle).not.toEqual(objectsOf(fine)[0].rle);
  });

  it("overlay on: msg.image is a PNG of the image's size; masks on: msg.masks holds one mask PNG per object", async () => {
    const msg = await flow.request("segVisual", { payload: scene, text: "thing", threshold: 0 }, "outVisual");
    expect(Buffer.isBuffer(msg.image)).toBe(true);
    const image = msg.image as Buffer;
    expect(image.subarray(0, 8)).toEqual(PNG_MAGIC);
    expect(await sharp(image).metadata()).toMatchObject({ format: "png", width: WIDTH, height: HEIGHT });
    // the overlay draws on the scene: it is not the input unchanged
    const [drawn, original] = await Promise.all([image, scene].map((b) => sharp(b).removeAlpha().raw().toBuffer()));
    expect(drawn.equals(original)).toBe(false);
    const masks = msg.masks as { id: number; png: Buffer }[];
    expect(masks.map((m) => m.id)).toEqual(objectsOf(msg).map((o) => o.id));
    for (const [i, m] of masks.entries()) {
      expect(Buffer.isBuffer(m.png)).toBe(true);
      expect(m.png.subarray(0, 8)).toEqual(PNG_MAGIC);
      const { data, info } = await sharp(m.png).greyscale().raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([WIDTH, HEIGHT]);
      expect(data.reduce((n, v) => n + (v > 127 ? 1 : 0), 0)).toBe(objectsOf(msg)[i].area);
    }
  });

  describe("errors: done(err) to a catch node, a red ring, no output, the runtime unharmed", () => {
    it("no model configured", async () => {
      const error = await flow.failure("segNoModel", { payload: scene, text: "thing" }, ["outNoModel"]);
      expect(error.message).toMatch(/choose a SAM 3 model/);
      expect(flow.lastStatus("segNoModel")).toEqual({ fill: "red", shape: "ring", text: "bad option" });
    });

    it("not an image", async () => {
      const bytes = await flow.failure("seg", { payload: Buffer.from("these bytes are no image"), text: "thing" }, ["out"]);
      expect(bytes.code).toBe("BAD_IMAGE");
      expect(flow.lastStatus("seg")).toEqual({ fill: "red", shape: "ring", text: "bad image" });
      // outside the folder for message paths: refused without saying whether it exists
      const missing = await flow.failure("seg", { payload: "/no/such/picture.png", text: "thing" }, ["out"]);
      expect(missing.code).toBe("PATH_NOT_ALLOWED");
      const number = await flow.failure("seg", { payload: 42, text: "thing" }, ["out"]);
      expect(number.message).toContain("msg.payload must hold an image");
    });

    it("a point outside the image", async () => {
      const error = await flow.failure("seg", { payload: scene, points: [{ x: 5000, y: 10 }] }, ["out"]);
      expect(error.code).toBe("BAD_PROMPT");
      expect(error.message).toMatch(/outside the 640x480 image/);
      expect(flow.lastStatus("seg")).toEqual({ fill: "red", shape: "ring", text: "bad prompt" });
    });

    it("an empty text, and no prompt at all", async () => {
      const empty = await flow.failure("seg", { payload: scene, text: "   " }, ["out"]);
      expect(empty.code).toBe("BAD_PROMPT");
      expect(empty.message).toMatch(/text prompt is empty/);
      const none = await flow.failure("seg", { payload: scene }, ["out"]);
      expect(none.code).toBe("BAD_PROMPT");
    });

    it("a bad threshold", async () => {
      const text = await flow.failure("seg", { payload: scene, text: "thing", threshold: "high" }, ["out"]);
      expect(text.message).toMatch(/threshold must be a number/);
      const range = await flow.failure("seg", { payload: scene, text: "thing", threshold: 2 }, ["out"]);
      expect(range.code).toBe("BAD_OPTION");
      expect(range.message).toMatch(/threshold must be between 0 and 1/);
      const multimask = await flow.failure("seg", { payload: scene, points: [[320, 240]], multimask: "yes" }, ["out"]);
      expect(multimask.code).toBe("BAD_OPTION");
      expect(multimask.message).toMatch(/multimask must be true or false/);
    });

    it("the node still works after its failures", async () => {
      const msg = await flow.request("seg", { payload: scene, text: "thing", threshold: 0 }, "out");
      expect(objectsOf(msg)).toEqual(objectsOf(baseline));
      expect(flow.lastStatus("seg")).toEqual({ fill: "green", shape: "dot", text: "16 objects" });
      expect(flow.errors.pending).toBe(0);
    });
  });
});
