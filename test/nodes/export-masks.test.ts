import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FrameJson, ObjectJson, SegmentationJson } from "../../core/export/json";
import { openFrameSource } from "../../core/video/frame-source";
import { messagePaths, modelConfig, segmentImageNode, sink, TestFlow, type Msg } from "../support/node-red";
import { SCENE } from "../support/reference";
import { makeVideo, type SyntheticVideo } from "../support/synthetic-video";

const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 8, fps: 10 };
const dir = mkdtempSync(join(tmpdir(), "sam3-nodes-export-"));
let clip: string;

interface ExportSettings {
  directory?: string;
  stem?: string;
  json?: boolean;
  png?: boolean;
  polygons?: boolean;
  overlay?: boolean;
  tolerance?: string;
}
const exportNode = (id: string, out: string, settings: ExportSettings) => ({
  id,
  type: "sam3-export-masks",
  name: "",
  model: "model",
  directory: "",
  stem: "",
  json: false,
  png: false,
  polygons: false,
  overlay: false,
  tolerance: "",
  wires: [[out]],
  ...settings,
});
const ALL = { json: true, png: true, polygons: true, overlay: true };

/** Every file below a folder, as paths relative to it, sorted. */
function filesBelow(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

const jsonLines = <T>(text: string): T[] => text.trim().split("\n").map((l) => JSON.parse(l) as T);
const whitePixels = async (png: Buffer | string) => {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { count: data.reduce((n, v) => n + (v > 127 ? 1 : 0), 0), width: info.width, height: info.height };
};
const tempExports = () => readdirSync(tmpdir()).filter((f) => f.startsWith("sam3-export-")).sort();

describe("sam3-export-masks (compiled node, real engine)", () => {
  let flow: TestFlow;
  let session: { id: string };
  const scene = readFileSync(SCENE);

  beforeAll(async () => {
    clip = await makeVideo(join(dir, "clip.mp4"), CLIP);
    flow = await TestFlow.load([
      modelConfig(),
      { id: "load", type: "sam3-load-video", name: "", model: "model", property: "", maxSide: "", stride: "", ...messagePaths(), wires: [["loaded"]] },
      { id: "point", type: "sam3-point-prompt", name: "", model: "model", points: "", box: "", objId: "", frame: "", coordinates: "pixels", wires: [["pointed"]] },
      { id: "prop", type: "sam3-propagate", name: "", model: "model", direction: "forward", start: "", maxFrames: "", wires: [[], ["propagated"]] },
      exportNode("exportAll", "out", { ...ALL, directory: join(dir, "video"), stem: "clip" }),
      exportNode("exportBuffers", "outBuffers", { json: true, png: true }),
      exportNode("exportNone", "outNone", {}),
      segmentImageNode("segment", ["exportImage", "segmented"], { overlay: true }),
      exportNode("exportImage", "outImage", { ...ALL, directory: join(dir, "image"), stem: "scene" }),
      segmentImageNode("segmentPlain", ["exportImageOverlay"]),
      exportNode("exportImageOverlay", "outImageOverlay", { json: true, overlay: true }),
      ...["loaded", "pointed", "propagated", "out", "outBuffers", "outNone", "segmented", "outImage", "outImageOverlay"].map(sink),
    ]);
    session = (await flow.request("load", { payload: clip }, "loaded")).session as { id: string };
    for (const [objId, point] of [[1, [12, 42]], [2, [108, 12]], [3, [80, 60]]] as const) {
      await flow.request("point", { session, points: [point], objId }, "pointed");
    }
    await flow.request("prop", { session }, "propagated");
  });
  afterEach(() => flow.expectNoErrors());
  afterAll(async () => {
    await flow.unload();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes a video session's results to a folder: frames JSON lines, mask PNG sequences, polygons, overlay MP4", async () => {
    const msg = await flow.request("exportAll", { session, topic: "kept" }, "out");
    const root = join(dir, "video");
    const files = msg.payload as string[];
    expect(files.map((f) => relative(root, f)).sort()).toEqual(filesBelow(root));
    expect(files.every((f) => f.startsWith(root))).toBe(true);
    expect(msg.topic).toBe("kept");
    expect(flow.lastStatus("exportAll")).toEqual({ fill: "green", shape: "dot", text: `${files.length} files` });

    const lines = jsonLines<FrameJson>(readFileSync(join(root, "clip.frames.jsonl"), "utf8"));
    const framesWithObjects = lines.map((l) => l.frame_index);
    expect(framesWithObjects.length).toBeGreaterThan(0);
    expect(framesWithObjects).toEqual([...framesWithObjects].sort((a, b) => a - b));
    const pngs: string[] = [];
    for (const line of lines) {
      expect(line.objects.length).toBeGreaterThan(0);
      for (const o of line.objects) {
        expect([1, 2, 3]).toContain(o.id);
        const png = join(root, "clip.masks", `obj-${o.id}`, `${String(line.frame_index).padStart(6, "0")}.png`);
        pngs.push(relative(root, png));
        expect(await whitePixels(png)).toEqual({ count: o.area, width: CLIP.width, height: CLIP.height });
      }
    }
    expect(filesBelow(root).filter((f) => f.endsWith(".png"))).toEqual(pngs.sort());

    const polygons = jsonLines<{ frame_index: number; objects: { id: number; polygons: unknown[] }[] }>(readFileSync(join(root, "clip.polygons.jsonl"), "utf8"));
    expect(polygons.map((p) => p.frame_index)).toEqual(framesWithObjects);
    expect(polygons.map((p) => p.objects.map((o) => o.id))).toEqual(lines.map((l) => l.objects.map((o) => o.id)));

    const overlay = await openFrameSource(join(root, "clip.overlay.mp4"));
    try {
      expect(overlay.info).toMatchObject({ kind: "video", frames: CLIP.frames, width: CLIP.width, height: CLIP.height });
    } finally {
      await overlay.close();
    }
  });

  it("msg.directory (a folder inside the node's), msg.stem and msg.tolerance override the node's", async () => {
    const root = join(dir, "video", "override");
    const exact = await flow.request("exportAll", { session, directory: "override", stem: "exact", tolerance: 0 }, "out");
    const rough = await flow.request("exportAll", { session: session.id, directory: "override", stem: "rough", tolerance: 8 }, "out");
    expect((exact.payload as string[]).every((f) => f.startsWith(join(root, "exact.")))).toBe(true);
    expect((rough.payload as string[]).every((f) => f.startsWith(join(root, "rough.")))).toBe(true);
    expect(filesBelow(root).filter((f) => !f.includes("/"))).toEqual(["exact.frames.jsonl", "exact.overlay.mp4", "exact.polygons.jsonl", "rough.frames.jsonl", "rough.overlay.mp4", "rough.polygons.jsonl"]);
    const vertices = (stem: string) => readFileSync(join(root, `${stem}.polygons.jsonl`), "utf8").split(",").length;
    expect(vertices("rough")).toBeLessThan(vertices("exact"));
  });

  it("without a directory the files come back as Buffers [{name, data}] and no temporary folder stays", async () => {
    const before = tempExports();
    const msg = await flow.request("exportBuffers", { session }, "outBuffers");
    const files = msg.payload as { name: string; data: Buffer }[];
    for (const f of files) expect(Buffer.isBuffer(f.data)).toBe(true);
    const names = files.map((f) => f.name);
    expect(names[0]).toBe("sam3.frames.jsonl");
    // the same session gives the same files as the folder export
    const root = join(dir, "video");
    const expected = filesBelow(root).filter((f) => f === "clip.frames.jsonl" || (f.startsWith("clip.") && f.endsWith(".png"))).map((f) => f.replace(/^clip\./, "sam3."));
    expect([...names].sort()).toEqual(expected);
    for (const f of files) expect(f.data.equals(readFileSync(join(root, f.name.replace(/^sam3\./, "clip."))))).toBe(true);
    // the temporary folder is gone by the time the message arrives
    expect(tempExports()).toEqual(before);
  });

  it("exports an image result wired from sam3-segment-image: JSON, mask PNGs, polygons and the overlay PNG", async () => {
    const exported = flow.inbox("outImage").next({ failOn: flow.errors });
    const segmented = await flow.request("segment", { payload: scene, text: "thing", threshold: 0 }, "segmented");
    const msg = await exported;
    const root = join(dir, "image");
    const objects = segmented.payload as ObjectJson[];
    expect(objects).toHaveLength(16);
    const expected = ["scene.json", "scene.overlay.png", "scene.polygons.json", ...objects.map((o) => `scene.mask-${o.id}.png`)].sort();
    expect((msg.payload as string[]).map((f) => relative(root, f)).sort()).toEqual(expected);
    expect(filesBelow(root)).toEqual(expected);
    const json = JSON.parse(readFileSync(join(root, "scene.json"), "utf8")) as SegmentationJson;
    expect(json).toEqual({ image: { width: 640, height: 480 }, model: "sam3-tiny-336", objects });
    expect(readFileSync(join(root, "scene.overlay.png")).equals(segmented.image as Buffer)).toBe(true);
    for (const o of objects) expect(await whitePixels(join(root, `scene.mask-${o.id}.png`))).toEqual({ count: o.area, width: 640, height: 480 });
    const polygons = JSON.parse(readFileSync(join(root, "scene.polygons.json"), "utf8")) as { image: unknown; objects: { id: number }[] };
    expect(polygons.image).toEqual({ width: 640, height: 480 });
    expect(polygons.objects.map((o) => o.id)).toEqual(objects.map((o) => o.id));
  });

  it("an image result without a directory comes back as Buffers", async () => {
    const segmented = await flow.request("segment", { payload: scene, points: [{ x: 320, y: 240 }] }, "segmented");
    flow.inbox("outImage").drain();
    const msg = await flow.request("exportBuffers", { payload: segmented.payload, sam3: segmented.sam3 }, "outBuffers");
    const files = msg.payload as { name: string; data: Buffer }[];
    expect(files.map((f) => f.name)).toEqual(["sam3.mask-1.png", "sam3.json"]);
    const json = JSON.parse(files[1].data.toString("utf8")) as SegmentationJson;
    expect(json.objects).toEqual(segmented.payload);
    expect((await whitePixels(files[0].data)).count).toBe((segmented.payload as ObjectJson[])[0].area);
  });

  it("a session with no masks yet is refused, and nothing is written", async () => {
    const empty = (await flow.request("load", { payload: clip }, "loaded")).session as { id: string };
    // msg.directory: a folder inside the node's directory
    const error = await flow.failure("exportAll", { session: empty, directory: "empty", stem: "empty" }, ["out"]);
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/no results to export/);
    expect(filesBelow(join(dir, "video", "empty"))).toEqual([]);
  });

  describe("errors: done(err) to a catch node, a red ring, no output", () => {
    it("nothing to export", async () => {
      for (const msg of [{ payload: "hello" }, { payload: [] }, { payload: [{ id: 1 }], sam3: {} }]) {
        const error = await flow.failure("exportAll", msg, ["out"]);
        expect(error.message).toMatch(/nothing to export/);
        expect(flow.lastStatus("exportAll")).toEqual({ fill: "red", shape: "ring", text: "bad request" });
      }
      const unknown = await flow.failure("exportAll", { session: "no-such-session" }, ["out"]);
      expect(unknown.code).toBe("UNKNOWN_SESSION");
    });

    it("no format chosen", async () => {
      const error = await flow.failure("exportNone", { session }, ["outNone"]);
      expect(error.message).toMatch(/choose at least one format/);
      expect(flow.lastStatus("exportNone")).toEqual({ fill: "red", shape: "ring", text: "bad option" });
    });

    it("an overlay asked of an image result without msg.image", async () => {
      const before = tempExports();
      const caught = flow.errors.next();
      flow.node("segmentPlain").receive({ payload: scene, text: "thing", threshold: 0 });
      const error = (await caught).error as { message: string; source: { id: string } };
      expect(error.source.id).toBe("exportImageOverlay");
      expect(error.message).toMatch(/no overlay to export: enable Overlay in sam3-segment-image/);
      expect(flow.lastStatus("exportImageOverlay")).toEqual({ fill: "red", shape: "ring", text: "bad request" });
      expect(flow.inbox("outImageOverlay").pending).toBe(0);
      await expect.poll(() => tempExports()).toEqual(before);
    });

    it("a bad tolerance", async () => {
      const error = await flow.failure("exportAll", { session, tolerance: "smooth" }, ["out"]);
      expect(error.message).toMatch(/tolerance must be a number/);
    });

    it("the node still works after its failures", async () => {
      const msg: Msg = await flow.request("exportBuffers", { session }, "outBuffers");
      expect((msg.payload as unknown[]).length).toBeGreaterThan(1);
      expect(flow.lastStatus("exportBuffers")).toMatchObject({ fill: "green" });
      expect(existsSync(join(dir, "video", "clip.frames.jsonl"))).toBe(true);
    });
  });
});
