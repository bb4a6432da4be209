import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../core/image/decode";
import { maskArea } from "../../core/masks/mask";
import { Sam3 } from "../../core/sam3";
import { rejection } from "../support/errors";
import { SCENE } from "../support/reference";

const clicks = [{ x: 160, y: 170 }, { x: 460, y: 160, positive: false }];

describe("Sam3 on the real onnxruntime", () => {
  let sam: Sam3;
  beforeAll(async () => {
    sam = await Sam3.open();
  });
  afterAll(() => sam.close());

  it("runs the image encoder once per image and the text encoder once per prompt text", async () => {
    const image = await decodeImage(SCENE);
    const first = await sam.segment(image, { text: "a fresh prompt" }, { threshold: 0 });
    expect(first.timings.vitPasses).toBe(1);
    expect(first.timings).toHaveProperty("textEncoder");
    const again = await sam.segment(image, { text: "another prompt" }, { threshold: 0 });
    expect(again.timings.vitPasses).toBe(0);
    expect(again.timings).toHaveProperty("textEncoder");
    const same = await sam.segment(image, { text: "a fresh prompt" }, { threshold: 0 });
    expect(same.timings).not.toHaveProperty("textEncoder");
    expect(same.objects.map((o) => o.score)).toEqual(first.objects.map((o) => o.score));
    const flipped = await sharp(SCENE).flop().png().toBuffer();
    expect((await sam.segment(flipped, { text: "a fresh prompt" })).timings.vitPasses).toBe(1);
  });

  it("gives concurrent callers the results sequential calls give", async () => {
    const flipped = await sharp(SCENE).flip().png().toBuffer();
    const jobs = () => [
      sam.segment(SCENE, { text: "red circle" }, { threshold: 0 }),
      sam.segment(flipped, { points: clicks }),
      sam.segment(SCENE, { text: "blue square" }, { threshold: 0 }),
      sam.segment(flipped, { text: "red circle" }, { threshold: 0 }),
    ];
    const together = await Promise.all(jobs());
    const alone = [];
    for (const job of jobs()) alone.push(await job);
    expect(together.map((r) => r.objects.map((o) => [o.score, o.area]))).toEqual(alone.map((r) => r.objects.map((o) => [o.score, o.area])));
  });

  it("finds several concepts in one call: one image pass, each object labelled with its concept, ids across them", async () => {
    const image = await decodeImage(await sharp(SCENE).rotate(90).png().toBuffer());
    const concepts = ["red circle", "blue square"];
    const alone = await Promise.all(concepts.map((text) => sam.segment(image, { text }, { threshold: 0, maxObjects: 2 })));
    // maxObjects bounds each concept; the concepts' objects come in the order given
    const both = await sam.segment(image, { text: concepts }, { threshold: 0, maxObjects: 2 });
    const expected = alone.flatMap((r, i) => r.objects.map((o) => ({ label: concepts[i], score: o.score, area: o.area })));
    expect(expected).toHaveLength(4);
    expect(both.objects.map((o) => ({ label: o.label, score: o.score, area: o.area }))).toEqual(expected);
    expect(both.objects.map((o) => o.id)).toEqual([1, 2, 3, 4]);
    expect(both.timings.vitPasses).toBe(0);
    expect((await rejection(sam.segment(image, { text: [] }))).code).toBe("BAD_PROMPT");
  });

  it("takes points and boxes as fractions of the image with coordinates: relative", async () => {
    const image = await decodeImage(SCENE);
    const relative = await sam.segment(image, { points: [{ x: 0.25, y: 0.35 }], boxes: [{ box: [0.1, 0.2, 0.4, 0.6] }] }, { coordinates: "relative" });
    const pixels = await sam.segment(image, { points: [{ x: 160, y: 168 }], boxes: [{ box: [64, 96, 256, 288] }] });
    expect(relative.objects.map((o) => [o.score, o.area])).toEqual(pixels.objects.map((o) => [o.score, o.area]));
    const outside = await rejection(sam.segment(image, { points: [{ x: 160, y: 168 }] }, { coordinates: "relative" }));
    expect([outside.code, outside.message]).toEqual(["BAD_PROMPT", expect.stringContaining('pass coordinates "pixels"')]);
  });

  it("uses exemplar boxes with text: negative and positive boxes change the scores", async () => {
    const plain = await sam.segment(SCENE, { text: "red circle" }, { threshold: 0 });
    const withBox = await sam.segment(SCENE, { text: "red circle", boxes: [{ box: [80, 90, 240, 250] }, { box: [360, 60, 560, 260], positive: false }] }, { threshold: 0 });
    expect(withBox.path).toBe("detector");
    expect(withBox.objects.map((o) => o.score)).not.toEqual(plain.objects.map((o) => o.score));
  });

  it("limits and suppresses detections on request", async () => {
    const all = await sam.segment(SCENE, { text: "red circle" }, { threshold: 0 });
    expect((await sam.segment(SCENE, { text: "red circle" }, { threshold: 0, maxObjects: 2 })).objects).toHaveLength(2);
    const nms = await sam.segment(SCENE, { text: "red circle" }, { threshold: 0, nms: 0.3 });
    expect(nms.objects.length).toBeLessThan(all.objects.length);
    expect(nms.objects.map((o) => o.id)).toEqual(nms.objects.map((_, i) => i + 1));
  });

  it("smooths masks with fineness and clears specks with minRegionArea", async () => {
    const raw = await sam.segment(SCENE, { points: clicks }, { minRegionArea: 0 });
    const cleaned = await sam.segment(SCENE, { points: clicks }, { minRegionArea: 400 });
    const smooth = await sam.segment(SCENE, { points: clicks }, { fineness: 1, minRegionArea: 0 });
    const edges = (m: { data: Uint8Array; width: number }) => m.data.reduce((n, v, i) => n + (i % m.width && v !== m.data[i - 1] ? 1 : 0), 0);
    expect(edges(smooth.objects[0].mask)).toBeLessThan(edges(raw.objects[0].mask) * 0.75);
    expect(edges(cleaned.objects[0].mask)).toBeLessThan(edges(raw.objects[0].mask));
    expect(maskArea(raw.objects[0].mask)).toBe(raw.objects[0].area);
  });

  it("warns when a text prompt is truncated", async () => {
    const result = await sam.segment(SCENE, { text: "a very long prompt ".repeat(20) });
    expect(result.warnings.join()).toContain("truncated");
  });

  it("rejects bad options and prompts with typed errors, and keeps working", async () => {
    expect((await rejection(sam.segment(SCENE, { text: "x" }, { threshold: 2 }))).code).toBe("BAD_OPTION");
    expect((await rejection(sam.segment(SCENE, { text: "x" }, { fineness: -1 }))).code).toBe("BAD_OPTION");
    expect((await rejection(sam.segment(SCENE, { text: "" }))).code).toBe("BAD_PROMPT");
    expect((await rejection(sam.segment(SCENE, { points: [{ x: 700, y: 1 }] }))).message).toContain("outside the 640x480 image");
    expect((await rejection(sam.segment(SCENE, { points: clicks, maskInput: new Float32Array(10) }))).message).toContain("96x96");
    expect((await rejection(sam.segment(Buffer.from("not an image"), { text: "x" }))).code).toBe("BAD_IMAGE");
    expect((await sam.segment(SCENE, { points: clicks })).objects).toHaveLength(1);
  });
});

describe("sharing and closing", () => {
  it("shares one engine per pack, released when the last handle closes", async () => {
    const a = await Sam3.open({ model: "sam3-tiny-336" });
    const b = await Sam3.open({ model: "sam3-tiny-336" });
    await a.segment(SCENE, { points: clicks });
    const warm = await b.segment(SCENE, { points: clicks });
    expect(warm.timings.vitPasses).toBe(0);
    await a.close();
    await a.close();
    expect((await rejection(a.segment(SCENE, { points: clicks }))).code).toBe("CLOSED");
    expect((await b.segment(SCENE, { points: clicks })).objects).toHaveLength(1);
    await b.close();
    const c = await Sam3.open({ model: "sam3-tiny-336" });
    expect((await c.segment(SCENE, { points: clicks })).timings.vitPasses).toBe(1);
    await c.close();
  });

  it("falls back to CPU when a device is missing, and says so", async () => {
    const warnings: string[] = [];
    const sam = await Sam3.open({ device: "coreml", onWarning: (m) => warnings.push(m) });
    try {
      expect(sam.device).toMatchObject({ requested: "coreml", active: "cpu" });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("running on cpu");
      expect((await sam.segment(SCENE, { points: clicks })).objects).toHaveLength(1);
    } finally {
      await sam.close();
    }
  });

  it("refuses an unknown model with a typed error", async () => {
    expect((await rejection(Sam3.open({ model: "no-such-model" }))).code).toBe("UNKNOWN_PRESET");
  });
});
