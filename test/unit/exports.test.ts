import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { writeSegmentationFiles } from "../../core/export/files";
import { segmentationToJson } from "../../core/export/json";
import { maskToPng, pngToMask } from "../../core/export/mask-png";
import { renderOverlay } from "../../core/export/overlay";
import { objectColour, toHex } from "../../core/export/palette";
import { cocoRleToMask } from "../../core/masks/rle";
import type { RgbImage } from "../../core/image/decode";
import type { Mask } from "../../core/masks/mask";
import type { SegmentResult } from "../../core/sam3";

const W = 120;
const H = 80;
const grey: RgbImage = { width: W, height: H, data: Buffer.alloc(W * H * 3, 100), key: "grey" };

/** A filled rectangle mask [x1, x2) x [y1, y2). */
function rect(x1: number, y1: number, x2: number, y2: number): Mask {
  const data = new Uint8Array(W * H);
  for (let y = y1; y < y2; y++) data.fill(1, y * W + x1, y * W + x2);
  return { width: W, height: H, data };
}

const result: SegmentResult = {
  image: { width: W, height: H },
  model: "test",
  path: "detector",
  objects: [
    { id: 1, score: 0.9123456789, box: [10.123, 40, 50.456, 70], area: 1200, mask: rect(10, 40, 50, 70) },
    { id: 2, score: 0.5, box: [70, 10, 110, 30], area: 800, mask: rect(70, 10, 110, 30) },
  ],
  warnings: [],
  timings: {},
};

const scratch = mkdtempSync(join(tmpdir(), "sam3-exports-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function pixel(png: Buffer, x: number, y: number) {
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return Array.from(data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3));
}

describe("overlay image", () => {
  it("tints each object's inside in its colour, outlines it, and leaves the rest alone", async () => {
    const png = await renderOverlay(grey, result.objects, { labels: false });
    const [r, g, b] = objectColour(1);
    expect(await pixel(png, 30, 55)).toEqual([r, g, b].map((c) => Math.round(100 * 0.5 + c * 0.5)));
    expect(await pixel(png, 10, 55)).toEqual([r, g, b]);
    expect(await pixel(png, 60, 50)).toEqual([100, 100, 100]);
    expect(await pixel(png, 90, 20)).not.toEqual(await pixel(png, 30, 55));
  });

  it("draws a tag in the object's colour above its box", async () => {
    const png = await renderOverlay(grey, result.objects);
    const tag = await pixel(png, 72, 2);
    expect(tag).toEqual(objectColour(2));
    expect(await pixel(png, 60, 50)).toEqual([100, 100, 100]);
  });
});

describe("mask PNG", () => {
  it("round-trips a mask as black and white greyscale", async () => {
    const mask = result.objects[0].mask;
    const png = await maskToPng(mask);
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([W, H, 1]);
    expect((await pngToMask(png)).data).toEqual(mask.data);
  });
});

describe("segmentation JSON and files", () => {
  it("has the documented shape, with rounded numbers and decodable RLE", () => {
    const json = segmentationToJson(result);
    expect(Object.keys(json)).toEqual(["image", "model", "objects"]);
    expect(json.objects[0]).toEqual({ id: 1, score: 0.912346, box: [10.12, 40, 50.46, 70], area: 1200, rle: expect.any(Object), colour: toHex(objectColour(1)) });
    expect(json.objects[0].rle.size).toEqual([H, W]);
    expect(cocoRleToMask(json.objects[0].rle).data).toEqual(result.objects[0].mask.data);
    expect(segmentationToJson({ ...result, candidates: [{ score: 0.25, area: 3 }] }).candidates).toEqual([{ score: 0.25, area: 3 }]);
  });

  it("writes an overlay, one mask per object and the JSON", async () => {
    const files = await writeSegmentationFiles(result, grey, { dir: scratch, stem: "shot" });
    expect(files.map((f) => f.slice(scratch.length + 1))).toEqual(["shot.overlay.png", "shot.mask-1.png", "shot.mask-2.png", "shot.json"]);
    expect(JSON.parse(readFileSync(files[3], "utf8"))).toEqual(segmentationToJson(result));
    expect((await pngToMask(readFileSync(files[2]))).data).toEqual(result.objects[1].mask.data);
  });
});
