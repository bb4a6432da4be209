import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { colourHex, cutoutPng, cutoutsZip, decodeImage, ImageSession, isSam3Error, Sam3, type RgbImage } from "../../core";
import { SCENE } from "../support/reference";

let sam: Sam3;
let image: RgbImage;
const click = { x: 80, y: 60, positive: true };

beforeAll(async () => {
  sam = await Sam3.open();
  image = await decodeImage(SCENE);
}, 60_000);

afterAll(() => sam?.close());

const ids = (objects: { id: number }[]) => objects.map((o) => o.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function code(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (e) {
    return isSam3Error(e) ? e.code : "not a Sam3Error";
  }
  return "no error";
}

describe("ImageSession (sam3-tiny-336, real onnxruntime)", () => {
  it("keeps text results and clicked objects together, with labels, core's colours and never-reused ids", async () => {
    const session = new ImageSession(sam, image);
    const found = await session.find(["red circle"], { threshold: 0 });
    // random weights keep every one of the 16 detector queries at threshold 0
    expect(ids(found)).toEqual(range(1, 16));
    expect(found.every((o) => o.label === "red circle" && o.colour === colourHex(o.id) && !o.points)).toBe(true);

    const clicked = await session.prompt({ points: [click] });
    expect(ids(clicked)).toEqual(range(1, 17));
    const object = clicked[16];
    expect(object.label).toBeUndefined();
    expect(object.points).toEqual([click]);
    expect(object.candidates).toHaveLength(3);
    const best = object.candidates!.reduce((b, c, i, all) => (c.score > all[b].score ? i : b), 0);
    expect(object.chosen).toBe(best);
    expect(object.area).toBe(object.candidates![best].area);
    expect(object.colour).toBe(colourHex(17));

    // the box of a new object makes object 18, and 17 keeps its click
    const boxed = await session.prompt({ box: [150, 100, 250, 200] });
    expect(ids(boxed)).toEqual(range(1, 18));
    expect(boxed[17].prompt_box).toEqual([150, 100, 250, 200]);
    expect(boxed[16].points).toEqual([click]);
    expect(session.masks().map((m) => m.label ?? "")).toEqual([...Array(16).fill("red circle"), "", ""]);
  });

  it("picks a candidate, adds a click to the object's own list, undoes it, and removes the object with its last click", async () => {
    const session = new ImageSession(sam, image);
    const [first] = await session.prompt({ points: [click] });
    const other = (first.chosen! + 1) % 3;
    const [picked] = await session.choose(1, other);
    expect(picked.chosen).toBe(other);
    expect(picked.area).toBe(first.candidates![other].area);
    expect(picked.score).toBe(first.candidates![other].score);
    const direct = await sam.segment(image, { points: [click] }, { candidate: other });
    expect(picked.area).toBe(direct.objects[0].area);

    // the session holds the clicks: a new one is appended once, and the candidates go (two clicks are not ambiguous)
    const second = { x: 90, y: 70, positive: false };
    const [refined] = await session.prompt({ points: [second], objectId: 1 });
    expect(refined.points).toEqual([click, second]);
    expect(refined.candidates).toBeUndefined();
    const [undone] = await session.undo(1);
    expect(undone.points).toEqual([click]);
    expect(undone.candidates).toHaveLength(3);
    expect(undone.area).toBe(first.area);
    expect(await session.undo(1)).toEqual([]);
    expect(ids(await session.prompt({ points: [click] }))).toEqual([2]);
  });

  it("runs every prompt again with new options, keeping ids and leaving removed results out", async () => {
    const session = new ImageSession(sam, image);
    await session.find(["red circle"], { threshold: 0, fineness: 0 });
    const clicked = (await session.prompt({ points: [click] }))[16];
    await session.remove(3);
    const again = await session.setOptions({ threshold: 0, fineness: 1 });
    expect(ids(again)).toEqual([1, 2, ...range(4, 17)]);
    expect(again[15].rle.counts).not.toBe(clicked.rle.counts);
    // random weights score every query about 0.25: at 0.3 no text result is left, the clicked object stays
    expect(ids(await session.setOptions({ threshold: 0.3 }))).toEqual([17]);
    await session.clear();
    expect(session.objects()).toEqual([]);
    expect(ids(await session.prompt({ points: [click] }))).toEqual([1]);
  });

  it("refuses what it cannot do with typed errors, and changes nothing", async () => {
    const session = new ImageSession(sam, image);
    await session.find(["red circle"], { threshold: 0 });
    await session.prompt({ points: [click] });
    const before = session.objects();
    expect(await code(() => session.undo(1))).toBe("BAD_PROMPT");
    expect(await code(() => session.undo(99))).toBe("UNKNOWN_OBJECT");
    expect(await code(() => session.remove(99))).toBe("UNKNOWN_OBJECT");
    expect(await code(() => session.choose(17, 3))).toBe("BAD_REQUEST");
    expect(await code(() => session.prompt({ points: [{ x: image.width + 5, y: 1 }], objectId: 17 }))).toBe("BAD_PROMPT");
    expect(await code(() => session.prompt({ box: [50, 50, 10, 10] }))).toBe("BAD_PROMPT");
    expect(await code(() => session.prompt({}))).toBe("BAD_PROMPT");
    expect(session.objects()).toEqual(before);
  });
});

describe("cut-outs", () => {
  it("crops the image to each mask's box with alpha = mask, one PNG per object in a zip", async () => {
    const session = new ImageSession(sam, image);
    await session.prompt({ points: [click] });
    await session.prompt({ box: [150, 100, 250, 200] });
    const masks = session.masks();
    for (const { mask, box } of masks) {
      const png = await cutoutPng(image, mask);
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      const [x1, y1, x2, y2] = box;
      expect([info.width, info.height, info.channels]).toEqual([x2 - x1, y2 - y1, 4]);
      let inside = 0;
      let wrong = 0;
      for (let y = 0; y < info.height; y++) {
        for (let x = 0; x < info.width; x++) {
          const from = (y + y1) * image.width + x + x1;
          const at = (y * info.width + x) * 4;
          if (data[at + 3] !== (mask.data[from] ? 255 : 0)) wrong++;
          if (!data[at + 3]) continue;
          inside++;
          for (let c = 0; c < 3; c++) if (data[at + c] !== image.data[from * 3 + c]) wrong++;
        }
      }
      expect(wrong).toBe(0);
      expect(inside).toBe(masks.find((m) => m.box === box)!.area);
    }
    const zip = await cutoutsZip(image, masks);
    const names = [...zip.toString("latin1").matchAll(/cutout-\d+\.png/g)].map((m) => m[0]);
    expect([...new Set(names)]).toEqual(["cutout-1.png", "cutout-2.png"]);
    expect(await cutoutPng(image, { width: image.width, height: image.height, data: new Uint8Array(image.width * image.height) })).toBeUndefined();
  });
});
