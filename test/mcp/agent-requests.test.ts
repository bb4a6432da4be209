import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttp, firstText, MCP_MAIN, startHttpServer, stopServer, testServerOptions } from "../support/mcp";
import { REPO } from "../support/reference";

type Link = { uri: string; name: string; mimeType: string };
type Result = { isError?: boolean; structuredContent?: any; content: any[] };

/** What a resource link reads back as: its MIME type and bytes. */
async function readLink(client: Client, link: Link): Promise<{ mimeType?: string; data: Buffer }> {
  const [content] = (await client.readResource({ uri: link.uri })).contents as { mimeType?: string; blob?: string; text?: string }[];
  return { mimeType: content.mimeType, data: content.blob !== undefined ? Buffer.from(content.blob, "base64") : Buffer.from(content.text ?? "") };
}

/** A cut-out has an alpha channel, opaque exactly where the object's mask PNG (cropped to the same place) is white. */
async function expectCutoutOfMask(cutout: Buffer, mask: Buffer) {
  const meta = await sharp(cutout).metadata();
  expect(meta.hasAlpha).toBe(true);
  const alpha = await sharp(cutout).extractChannel(3).raw().toBuffer();
  expect(alpha.every((a) => a === 0 || a === 255)).toBe(true);
  const inside = (await sharp(mask).greyscale().raw().toBuffer()).filter((v) => v > 127).length;
  expect(inside).toBeGreaterThan(0);
  expect(alpha.filter((a) => a === 255).length).toBe(inside);
}

const call = (client: Client, name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<Result>;

/**
 * "Cut out every person in the clip and give me the masks", as an agent asks it: one call, then the links it got
 * read back, and the session it left open used for a follow-up.
 */
async function cutOutEveryPerson(client: Client) {
  // the bundled pack's random weights score low: the session's threshold lets the concept find objects
  const asked = await call(client, "segment_video", { video_path: "shapes.mp4", text: "red circle", threshold: 0.1, direction: "forward", max_frames: 6, exports: ["png", "cutouts", "overlay"] });
  expect(asked.isError, firstText(asked)).toBeFalsy();
  const s = asked.structuredContent;
  expect(s.objects.length).toBeGreaterThan(0);
  const first = s.objects[0].id;
  expect(firstText(asked)).toContain(`#${first} red circle`);
  const names = s.files.map((f: Link) => f.name);
  expect(names).toEqual(expect.arrayContaining([`shapes.masks/obj-${first}/000000.png`, `shapes.cutouts/obj-${first}/000000.png`]));
  expect(s.session_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(s.session_open).toBe(true);
  expect(firstText(asked)).toContain(`Session ${s.session_id} stays open`);
  const overlay = s.files.find((f: Link) => f.name === "shapes.overlay.mp4");
  const video = await readLink(client, overlay);
  expect(video.mimeType).toBe("video/mp4");
  expect(video.data.subarray(4, 8).toString()).toBe("ftyp");
  // the session it left open takes follow-up tools: a click adds an object, export_masks cuts it out
  await call(client, "add_prompt", { session_id: s.session_id, frame_index: 0, obj_id: 100, points: [{ x: 50, y: 80 }] });
  await call(client, "propagate_in_video", { session_id: s.session_id, propagation_direction: "forward", max_frame_num_to_track: 3 });
  const exported = await call(client, "export_masks", { session_id: s.session_id, formats: ["png", "cutouts"] });
  expect(exported.isError, firstText(exported)).toBeFalsy();
  expect(exported.structuredContent.files.map((f: Link) => f.name)).toEqual(expect.arrayContaining(["shapes.masks/obj-100/000000.png", "shapes.cutouts/obj-100/000000.png"]));
  await call(client, "close_session", { session_id: s.session_id });
}

/** The same with a click, so there is an object to cut out: masks, cut-outs and overlay, all read back. */
async function cutOutClickedObject(client: Client) {
  const asked = await call(client, "segment_video", { video_path: "shapes.mp4", points: [{ x: 50, y: 80 }], max_frames: 5, direction: "forward", exports: ["png", "cutouts", "overlay"], keep_session: false });
  expect(asked.isError, firstText(asked)).toBeFalsy();
  const s = asked.structuredContent;
  const text = firstText(asked);
  // a client that reads only the text still gets each object's id, score, frames and box
  expect(text).toMatch(/^#1 {2}mean score \d\.\d{3} {2}frames 0-5 \(on 6\) {2}box \[\d+, \d+, \d+, \d+\] on frame 0$/m);
  expect(text).toContain("shapes.masks/ (6 files)");
  const links = asked.content.filter((c) => c.type === "resource_link");
  expect(links.map((l) => l.uri)).toEqual(s.files.map((f: Link) => f.uri));
  const byName = (name: string) => s.files.find((f: Link) => f.name === name);
  expect((await readLink(client, byName("shapes.overlay.mp4"))).data.subarray(4, 8).toString()).toBe("ftyp");
  for (const frame of ["000000", "000005"]) {
    const mask = await readLink(client, byName(`shapes.masks/obj-1/${frame}.png`));
    const cutout = await readLink(client, byName(`shapes.cutouts/obj-1/${frame}.png`));
    expect([mask.mimeType, cutout.mimeType]).toEqual(["image/png", "image/png"]);
    await expectCutoutOfMask(cutout.data, mask.data);
  }
}

/** An image at threshold 0: every box in the text, five masks inline, all of them behind a link; cut-outs read back. */
async function segmentImageAtThresholdZero(client: Client) {
  const result = await call(client, "segment_image", { image_path: "scene.png", text: "circle", threshold: 0, overlay: false, exports: ["cutouts", "png"] });
  expect(result.isError, firstText(result)).toBeFalsy();
  const s = result.structuredContent;
  // 264 KB before the cap: the noisy masks of the random-weight pack take about 17 KB each
  expect(JSON.stringify(result).length).toBeLessThan(110_000);
  expect(s.objects).toHaveLength(16);
  const inline = s.objects.filter((o: { rle?: unknown }) => o.rle);
  expect(inline).toHaveLength(5);
  expect(s.masks_left_out).toBe(11);
  const worstInline = Math.min(...inline.map((o: { score: number }) => o.score));
  expect(s.objects.filter((o: { rle?: unknown; score: number }) => !o.rle).every((o: { score: number }) => o.score <= worstInline)).toBe(true);
  const text = firstText(result);
  expect(text.split("\n").filter((l) => /^#\d+ circle {2}score \d\.\d{3} {2}box \[\d+, \d+, \d+, \d+\]$/.test(l))).toHaveLength(16);
  expect(text).toContain(`every mask is in ${s.full_result.uri}`);
  const full = JSON.parse((await readLink(client, s.full_result)).data.toString());
  expect(full.objects).toHaveLength(16);
  expect(full.objects.every((o: { rle?: unknown }) => o.rle)).toBe(true);
  const cutout = s.files.find((f: Link) => f.name === "scene.cutout-1.png");
  const mask = s.files.find((f: Link) => f.name === "scene.mask-1.png");
  await expectCutoutOfMask((await readLink(client, cutout)).data, (await readLink(client, mask)).data);
  // the cap moves both ways
  const none = await call(client, "segment_image", { image_path: "scene.png", text: "circle", threshold: 0, overlay: false, max_inline_masks: 0 });
  expect(JSON.stringify(none).length).toBeLessThan(10_000);
  const all = await call(client, "segment_image", { image_path: "scene.png", text: "circle", threshold: 0, overlay: false, max_inline_masks: 100 });
  expect(all.structuredContent.masks_left_out).toBe(0);
  expect(all.structuredContent.full_result).toBeUndefined();
}

describe("an agent's one-shot requests over stdio (sam3-mcp)", () => {
  const { outputDir } = testServerOptions();
  let client: Client;

  beforeAll(async () => {
    client = new Client({ name: "agent", version: "1" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [MCP_MAIN, "--root", join(REPO, "examples"), "--out", outputDir!], stderr: "pipe" }));
  });
  afterAll(async () => {
    await client.close();
    rmSync(outputDir!, { recursive: true, force: true });
  });

  it("segment_video with a concept, a threshold and exports png+cutouts+overlay: session id, files, a follow-up on the session", () => cutOutEveryPerson(client));
  it("segment_video's exports read back: mask PNGs, cut-outs with alpha matching them, an MP4", () => cutOutClickedObject(client));
  it("segment_image at threshold 0: capped inline masks, the full result linked, cut-outs", () => segmentImageAtThresholdZero(client));
});

describe("an agent's one-shot requests over Streamable HTTP (sam3-mcp --http)", () => {
  const { outputDir } = testServerOptions();
  let server: ChildProcess;
  let client: Client;

  beforeAll(async () => {
    let url: string;
    ({ server, url } = await startHttpServer(outputDir!));
    ({ client } = await connectHttp(url));
  });
  afterAll(async () => {
    await client.close();
    await stopServer(server);
    rmSync(outputDir!, { recursive: true, force: true });
  });

  it("segment_video with a concept, a threshold and exports png+cutouts+overlay: session id, files, a follow-up on the session", () => cutOutEveryPerson(client));
  it("segment_video's exports read back: mask PNGs, cut-outs with alpha matching them, an MP4", () => cutOutClickedObject(client));
  it("segment_image at threshold 0: capped inline masks, the full result linked, cut-outs", () => segmentImageAtThresholdZero(client));
});
