import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as rle from "../../core/masks/rle";
import { Sam3VideoPredictor } from "../../core/video/predictor";
import { makeVideo, type SyntheticVideo } from "../support/synthetic-video";

// the real encoder and decoder, counted: each stored frame must be encoded once and read without re-encoding
vi.mock("../../core/masks/rle", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../core/masks/rle")>();
  return { ...real, maskToCocoRle: vi.fn(real.maskToCocoRle), cocoRleToMask: vi.fn(real.cocoRleToMask) };
});

const dir = mkdtempSync(join(tmpdir(), "sam3-once-"));
const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 8, fps: 10 };
let predictor: Sam3VideoPredictor;
let session: string;

beforeAll(async () => {
  const clip = await makeVideo(join(dir, "clip.mp4"), CLIP);
  predictor = await Sam3VideoPredictor.open({ rules: { presenceThreshold: 0 } });
  session = (await predictor.handleRequest({ type: "start_session", resource_path: clip })).session_id;
  await predictor.addPrompt(session, { frame: 0, objectId: 1, points: [{ x: 0.2, y: 0.35 }], coordinates: "relative" });
  await predictor.addPrompt(session, { frame: 0, objectId: 2, points: [{ x: 0.7, y: 0.2 }], coordinates: "relative" });
});

afterAll(async () => {
  await predictor?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("each frame's result is kept once", () => {
  it("encodes every mask once per frame, and JSON, downloads and exports decode each at most once per frame", async () => {
    const encoded = vi.mocked(rle.maskToCocoRle);
    const decoded = vi.mocked(rle.cocoRleToMask);
    encoded.mockClear();
    decoded.mockClear();
    let masks = 0;
    for await (const frame of predictor.propagate(session, { direction: "forward" })) masks += frame.objects.length;
    expect(masks).toBeGreaterThan(CLIP.frames);
    // the clicked frame keeps the result its add_prompt stored: propagation encodes every other mask once
    const clicked = predictor.frame(session, 0).objects.length;
    expect(encoded).toHaveBeenCalledTimes(masks - clicked);

    // JSON reads the stored records: no encoding, no decoding
    const lines = (await predictor.exportFile(session, "masks.jsonl")).toString().trim().split("\n");
    expect(lines).toHaveLength(CLIP.frames);
    for (let t = 0; t < CLIP.frames; t++) expect(predictor.frame(session, t)).toEqual(JSON.parse(lines[t]));
    expect(encoded).toHaveBeenCalledTimes(masks - clicked);
    expect(decoded).not.toHaveBeenCalled();

    // one export with every format decodes each stored mask once
    const files = await predictor.export(session, join(dir, "out"), "clip", { json: true, png: true, polygons: true, overlay: true });
    expect(files).toHaveLength(4);
    expect(readdirSync(join(dir, "out", "clip.masks")).sort()).toEqual(["obj-1", "obj-2"]);
    expect(decoded).toHaveBeenCalledTimes(masks);
    expect(encoded).toHaveBeenCalledTimes(masks - clicked);
  });
});
