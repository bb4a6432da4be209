import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openFrameSource } from "../../core/video/frame-source";
import { PACKS, REPO } from "../support/reference";
import { CLIP_SPEC, loadClipSpec, renderClip, writeClipFrames } from "../support/synthetic-clip";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const referenceClip = (pack: string) =>
  JSON.parse(readFileSync(join(REPO, "test", "reference", pack, "reference_video_tracking.json"), "utf8")).clip;

describe("the synthetic clip of the video tracking references", () => {
  const spec = loadClipSpec();
  const hashes = Array.from({ length: spec.frames }, (_, t) => sha256(renderClip(spec, t).data));

  it.each(PACKS)("draws every frame byte for byte as the Python renderer did for %s", (pack) => {
    const clip = referenceClip(pack);
    expect(clip.spec).toBe(basename(CLIP_SPEC));
    expect([clip.width, clip.height, clip.frames]).toEqual([spec.width, spec.height, spec.frames]);
    expect(hashes).toEqual(clip.sha256);
  });

  it("shows every shape, the occlusion and the exit and return of the green bar", () => {
    const colourAt = (t: number, x: number, y: number) => Array.from(renderClip(spec, t).data.subarray((y * spec.width + x) * 3, (y * spec.width + x) * 3 + 3));
    expect(colourAt(0, 25, 32)).toEqual(spec.shapes[0].colour); // the red box
    expect(colourAt(25, 76, 46)).toEqual(spec.shapes[1].colour); // the blue disc in front of the red box
    const green = (t: number) => hashes[t] !== sha256(renderClip({ ...spec, shapes: spec.shapes.filter((s) => s.name !== "green bar") }, t).data);
    expect([green(0), green(20), green(40)]).toEqual([true, false, true]);
  });

  let folder: string | undefined;
  afterAll(async () => {
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it("writes a frame folder that opens as a video of the same pixels", async () => {
    folder = await mkdtemp(join(tmpdir(), "sam3-clip-"));
    expect(await writeClipFrames(spec, folder)).toHaveLength(spec.frames);
    const source = await openFrameSource(folder);
    try {
      expect([source.info.kind, source.info.frames, source.info.width, source.info.height]).toEqual(["frames", spec.frames, spec.width, spec.height]);
      for (const t of [0, 25, spec.frames - 1]) expect(sha256((await source.readFrame(t)).data)).toBe(hashes[t]);
    } finally {
      await source.close();
    }
  });
});
