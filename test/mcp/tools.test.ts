import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { colourHex } from "../../core/export/palette";
import { McpContext } from "../../mcp/context";
import { connectInMemory, firstText, testServerOptions } from "../support/mcp";
import { REPO, SCENE } from "../support/reference";

type Result = Awaited<ReturnType<Client["callTool"]>> & { structuredContent?: any; content: any[] };

/** The text of a read resource's first content. */
const contentText = (resource: { contents: unknown[] }) => (resource.contents[0] as { text: string }).text;

const TOOLS = ["segment_image", "segment_video", "start_session", "add_prompt", "propagate_in_video", "remove_object", "reset_session", "close_session", "list_sessions", "export_masks"];

describe("MCP tools over an in-memory transport", () => {
  const options = testServerOptions();
  let ctx: McpContext;
  let client: Client;
  const call = (name: string, args: Record<string, unknown>, opts?: Parameters<Client["callTool"]>[2]) => client.callTool({ name, arguments: args }, undefined, opts) as Promise<Result>;

  beforeAll(async () => {
    ctx = new McpContext(options);
    client = await connectInMemory(ctx);
  });
  afterAll(async () => {
    await client.close();
    await ctx.close();
    rmSync(options.outputDir!, { recursive: true, force: true });
  });

  it("lists every tool with input and output schemas, a description for a model, and hints", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOLS].sort());
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.outputSchema?.type, tool.name).toBe("object");
      expect(tool.description!.length, tool.name).toBeGreaterThan(60);
      expect(tool.annotations, tool.name).toBeDefined();
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    // it writes exports and the full result to the output folder, nothing else
    expect(byName.segment_image.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(byName.remove_object.annotations?.destructiveHint).toBe(true);
    expect(byName.segment_image.description).toMatch(/pixels/);
    expect(byName.segment_image.description).toMatch(/Example/);
  });

  it("segment_image: text finds every instance, with structured objects and a small overlay image", async () => {
    const result = await call("segment_image", { image_path: "scene.png", text: "red circle", threshold: 0 });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent.image).toEqual({ width: 640, height: 480 });
    expect(result.structuredContent.objects).toHaveLength(16);
    expect(result.structuredContent.objects[0]).toMatchObject({ id: 1, rle: { size: [480, 640] } });
    const image = result.content.find((c) => c.type === "image");
    const meta = await sharp(Buffer.from(image.data, "base64")).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(768);
    expect(firstText(result)).toContain("16 object(s)");
  });

  it("segment_image: several concepts in one call, each object labelled, colours as the overlay draws them", async () => {
    // 32 objects: their mask PNGs and cut-outs are more files than one answer links, the full result is among those linked
    const result = await call("segment_image", { image_path: "scene.png", text: ["red circle", "blue square"], threshold: 0, overlay: false, exports: ["png", "cutouts"] });
    expect(result.isError).toBeFalsy();
    const objects = result.structuredContent.objects as { id: number; label: string; colour: string }[];
    expect(objects).toHaveLength(32);
    expect(objects.map((o) => o.label)).toEqual([...Array(16).fill("red circle"), ...Array(16).fill("blue square")]);
    expect(objects.map((o) => o.id)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    expect(objects[0].colour).toBe(colourHex(1));
    // the text lists 20 objects and counts the rest
    const lines = firstText(result).split("\n");
    expect(lines.filter((l) => l.startsWith("#"))).toHaveLength(20);
    expect(lines).toContain("... and 12 more objects (all in structuredContent and " + result.structuredContent.full_result.uri + ")");
    expect(result.structuredContent.files).toHaveLength(50);
    expect(result.structuredContent.files[0]).toEqual(result.structuredContent.full_result);
    expect(lines.at(-1)).toMatch(/^Wrote 65 files \(50 linked\): scene\.json, scene\.cutout-1\.png, /);
  });

  it("segment_image: clicks in relative coordinates, base64 input, no overlay", async () => {
    const base64 = readFileSync(SCENE).toString("base64");
    const points = [{ x: 0.25, y: 0.35 }, { x: 0.72, y: 0.33, positive: false }];
    const result = await call("segment_image", { image_base64: `data:image/png;base64,${base64}`, points, coordinates: "relative", overlay: false });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent.objects).toHaveLength(1);
    // two clicks give SAM's single-mask output unless the three candidates are asked for
    expect(result.structuredContent.candidates).toBeUndefined();
    const all = await call("segment_image", { image_base64: `data:image/png;base64,${base64}`, points, coordinates: "relative", overlay: false, multimask: true });
    expect(all.structuredContent.candidates).toHaveLength(3);
    expect(result.content.some((c) => c.type === "image")).toBe(false);
  });

  it("segment_video: one call tracks a clicked object and links the per-frame results", async () => {
    const progress: number[] = [];
    const result = await call("segment_video", { video_path: "shapes.mp4", points: [{ x: 50, y: 80 }], overlay_video: true }, { onprogress: (p) => progress.push(p.progress) });
    expect(result.isError, firstText(result)).toBeFalsy();
    const s = result.structuredContent;
    expect([s.frames, s.width, s.height, s.cancelled]).toEqual([24, 320, 240, false]);
    // each link is named as its file: the video's stem once, never a doubled suffix
    expect(s.files.map((f: { name: string }) => f.name)).toEqual(["frames.jsonl", "shapes.overlay.mp4"]);
    for (const f of s.files) expect(f.uri.endsWith(`/${f.name}`), f.uri).toBe(true);
    expect(progress).toEqual([...Array(24).keys()].map((i) => i + 1));
    const links = result.content.filter((c) => c.type === "resource_link");
    expect(links.map((l) => l.uri)).toEqual(s.files.map((f: { uri: string }) => f.uri));
    const frames = await client.readResource({ uri: s.files[0].uri });
    const lines = contentText(frames).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.frame_index)).toEqual([...Array(24).keys()]);
    const video = await client.readResource({ uri: s.files[1].uri });
    expect(video.contents[0].mimeType).toBe("video/mp4");
    expect(Buffer.from((video.contents[0] as { blob: string }).blob, "base64").subarray(4, 8).toString()).toBe("ftyp");
    // the session stays open for follow-up tools, and closes when asked
    expect(s.session_open).toBe(true);
    expect((await call("list_sessions", {})).structuredContent.sessions.map((x: { session_id: string }) => x.session_id)).toEqual([s.session_id]);
    expect(firstText(result)).toContain(`Session ${s.session_id} stays open`);
    await call("close_session", { session_id: s.session_id });
    const closing = await call("segment_video", { video_path: "shapes.mp4", points: [{ x: 50, y: 80 }], max_frames: 2, direction: "forward", keep_session: false });
    expect(closing.structuredContent.session_open).toBe(false);
    expect((await call("list_sessions", {})).structuredContent.sessions).toEqual([]);
  });

  it("session tools: start, prompt, propagate with progress, read a frame, remove, export, reset, close", async () => {
    const started = await call("start_session", { video_path: "shapes.mp4" });
    const id = started.structuredContent.session_id;
    expect(started.structuredContent).toMatchObject({ frames: 24, width: 320, height: 240, fps: 12, kind: "video", tracker: "memory" });
    expect(started.structuredContent.decoder).toMatch(/ffmpeg/);
    const one = await call("add_prompt", { session_id: id, frame_index: 0, obj_id: 1, points: [{ x: 50, y: 80 }] });
    expect(one.structuredContent.frame_index).toBe(0);
    expect(firstText(one)).toMatch(/^Frame 0: 1 object\(s\)\.\n#1 {2}score \d\.\d{3} {2}box \[\d+, \d+, \d+, \d+\]$/);
    await call("add_prompt", { session_id: id, frame_index: 0, obj_id: 2, boxes: [{ x1: 220, y1: 30, x2: 270, y2: 80 }] });
    const progress: number[] = [];
    const run = await call("propagate_in_video", { session_id: id, propagation_direction: "forward", max_frame_num_to_track: 9 }, { onprogress: (p) => progress.push(p.progress) });
    expect(run.structuredContent.frames).toBe(10);
    expect(firstText(run).split("\n").slice(1).map((l) => l.replace(/score \S+|box \[[^\]]*\]/g, "_"))).toEqual(["#1  mean _  frames 0-9 (on 10)  _ on frame 0", "#2  mean _  frames 0-9 (on 10)  _ on frame 0"]);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const frame = await client.readResource({ uri: `sam3://sessions/${id}/frames/3` });
    expect(JSON.parse(contentText(frame)).frame_index).toBe(3);
    const ids = (await call("list_sessions", {})).structuredContent.sessions[0].object_ids;
    expect(ids).toEqual([1, 2]);
    const removed = await call("remove_object", { session_id: id, obj_id: 2 });
    expect(removed.structuredContent.object_ids).toEqual([1]);
    const exported = await call("export_masks", { session_id: id, formats: ["json", "png", "polygons"] });
    expect(exported.isError, firstText(exported)).toBeFalsy();
    expect(exported.structuredContent.files.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(["shapes.frames.jsonl", "shapes.polygons.jsonl"]));
    const png = exported.structuredContent.files.find((f: { name: string }) => f.name.endsWith(".png"));
    if (png) expect((await client.readResource({ uri: png.uri })).contents[0].mimeType).toBe("image/png");
    expect((await call("reset_session", { session_id: id })).isError).toBeFalsy();
    expect((await call("close_session", { session_id: id })).isError).toBeFalsy();
    expect((await call("close_session", { session_id: id })).isError).toBeFalsy();
  });

  it("stops a propagation when the client cancels the call", async () => {
    const id = (await call("start_session", { video_path: "shapes.mp4" })).structuredContent.session_id;
    await call("add_prompt", { session_id: id, frame_index: 0, obj_id: 1, points: [{ x: 50, y: 80 }] });
    const controller = new AbortController();
    const seen: number[] = [];
    const running = call("propagate_in_video", { session_id: id, propagation_direction: "forward" }, {
      signal: controller.signal,
      onprogress: (p) => {
        seen.push(p.progress);
        if (p.progress === 3) controller.abort();
      },
    });
    await expect(running).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    const info = (await call("list_sessions", {})).structuredContent.sessions.find((s: { session_id: string }) => s.session_id === id);
    expect(info.progress).toMatchObject({ running: false, cancelled: true });
    expect(info.progress.done).toBeLessThanOrEqual(4);
    await call("close_session", { session_id: id });
  });

  it("answers bad input with isError and a clear message, and keeps serving", async () => {
    const junk = join(REPO, "examples", "junk.mp4");
    writeFileSync(junk, "no video here");
    try {
      const cases: [string, Record<string, unknown>, RegExp][] = [
        ["segment_image", { image_path: "nope.png", text: "x" }, /does not exist/],
        ["segment_image", { image_path: "../package.json", text: "x" }, /outside the folders/],
        ["segment_image", { image_path: "/etc/passwd", text: "x" }, /outside the folders/],
        ["segment_image", { image_path: "scene.png", points: [{ x: 900, y: 10 }] }, /outside the 640x480 image/],
        ["segment_image", { image_path: "scene.png", points: [{ x: 1.5, y: 0.2 }], coordinates: "relative" }, /outside the 640x480 image/],
        // named by the tools' own arguments: no tool takes a mask
        ["segment_image", { image_path: "scene.png" }, /^BAD_PROMPT: give text, points or boxes: what to segment$/],
        ["segment_video", { video_path: "shapes.mp4" }, /^BAD_PROMPT: give text, points or boxes: what to track$/],
        ["segment_image", { text: "x" }, /exactly one of image_path and image_base64/],
        ["segment_image", { image_base64: "bm90IGFuIGltYWdl", text: "x" }, /cannot decode/],
        ["start_session", { video_path: "junk.mp4" }, /junk\.mp4/],
        ["add_prompt", { session_id: "nope", frame_index: 0, text: "x" }, /no session "nope"/],
        ["propagate_in_video", { session_id: "nope" }, /no session "nope"/],
        ["remove_object", { session_id: "nope", obj_id: 1 }, /no session/],
        ["export_masks", { session_id: "nope" }, /no session/],
      ];
      for (const [tool, args, message] of cases) {
        const result = await call(tool, args);
        expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
        expect(firstText(result)).toMatch(message);
      }
    } finally {
      rmSync(junk, { force: true });
    }
    expect((await call("segment_image", { image_path: "scene.png", points: [{ x: 100, y: 100 }] })).isError).toBeFalsy();
  });

  it("refuses base64 images over the size cap", async () => {
    const small = new McpContext(testServerOptions({ maxBase64Bytes: 1000 }));
    const c = await connectInMemory(small);
    try {
      const result = (await c.callTool({ name: "segment_image", arguments: { image_base64: readFileSync(SCENE).toString("base64"), text: "x" } })) as Result;
      expect(result.isError).toBe(true);
      expect(firstText(result)).toMatch(/larger than/);
    } finally {
      await c.close();
      await small.close();
      rmSync(small.paths.outputDir, { recursive: true, force: true });
    }
  });

  it("refuses sessions over the limit, queues jobs over the job limit, and refuses past a full queue", async () => {
    const limited = new McpContext(testServerOptions({ maxSessions: 1, maxJobs: 1 }));
    const c = await connectInMemory(limited);
    const full = new McpContext(testServerOptions({ maxJobs: 1, maxQueue: 0 }));
    const d = await connectInMemory(full);
    const segment = (client: Client) => client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", text: "x", overlay: false } }) as Promise<Result>;
    try {
      const first = (await c.callTool({ name: "start_session", arguments: { video_path: "shapes.mp4" } })) as Result;
      const second = (await c.callTool({ name: "start_session", arguments: { video_path: "shapes.mp4" } })) as Result;
      expect(second.isError).toBe(true);
      expect(firstText(second)).toMatch(/^LIMIT_EXCEEDED: 1 sessions are open, the limit/);
      await c.callTool({ name: "close_session", arguments: { session_id: first.structuredContent.session_id } });
      const queued = await Promise.all([0, 1, 2].map(() => segment(c)));
      expect(queued.filter((r) => r.isError)).toEqual([]);
      const refused = await Promise.all([0, 1].map(() => segment(d)));
      expect(refused.filter((r) => r.isError).map(firstText)).toEqual([expect.stringMatching(/^LIMIT_EXCEEDED: 0 calls are already waiting/)]);
    } finally {
      await Promise.all([c.close(), d.close()]);
      await Promise.all([limited.close(), full.close()]);
      for (const ctx of [limited, full]) rmSync(ctx.paths.outputDir, { recursive: true, force: true });
    }
  });
});
