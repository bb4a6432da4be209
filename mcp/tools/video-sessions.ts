import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { DIRECTIONS, type SessionInfo } from "../../core";
import type { ClientSessions } from "../client-sessions";
import { viewerToolMeta } from "../app/viewer";
import type { McpContext } from "../context";
import { fileLink, frameObject, objectSummary, sessionInfo, videoThreshold } from "../schemas";
import { objectLines, trackLines } from "../object-lines";
import { guardTool, type ErrorResult } from "../tool-errors";
import { propagateToFile } from "./propagation";
import { jobOptions } from "./tool-extra";
import { promptFields, toVideoPrompt } from "./video-prompts";

const sessionId = z.string().describe("From start_session.");
const text = (t: string) => ({ type: "text" as const, text: t });

/**
 * The video predictor's requests as tools: start_session, add_prompt, propagate_in_video, remove_object,
 * reset/close/list. Each touches only the client's own sessions; the model-running ones wait for a free slot.
 */
export function registerVideoSessionTools(server: McpServer, ctx: McpContext, sessions: ClientSessions) {
  const guard: Guard = (name, handler) => guardTool(ctx.paths, name, handler, ctx.log);
  registerTrackingTools(server, ctx, sessions, guard);
  registerLifecycleTools(server, ctx, sessions, guard);
}

type Guard = <A extends unknown[], R>(name: string, handler: (...args: A) => Promise<R>) => (...args: A) => Promise<R | ErrorResult>;

/** Session info as a client sees it: a decoder's message may name the file by its real path. */
const shownTo = (ctx: McpContext) => (info: SessionInfo): SessionInfo => (info.decode_error ? { ...info, decode_error: ctx.paths.scrub(info.decode_error) } : info);

/** start_session, add_prompt and propagate_in_video: the model-running tools. */
function registerTrackingTools(server: McpServer, ctx: McpContext, sessions: ClientSessions, guard: Guard) {
  const shown = shownTo(ctx);

  server.registerTool(
    "start_session",
    {
      title: "Open a video",
      description:
        'Opens a video file (MP4, MOV, MKV, WebM, AVI...), a folder of JPEG/PNG frames or an image for interactive tracking; returns a session_id and the frame count, size and fps. Then: add_prompt, propagate_in_video, close_session. Example: {"video_path": "clips/dog.mp4"}.',
      inputSchema: {
        video_path: z.string().describe("Inside the server's allowed folders."),
        max_side: z.number().int().positive().optional().describe("Downscale frames whose longer side is larger (e.g. 1280 for 4K video)."),
        stride: z.number().int().positive().optional().describe("Use every Nth frame."),
        threshold: videoThreshold,
      },
      outputSchema: sessionInfo.shape,
      _meta: viewerToolMeta(),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    guard("start_session", async ({ video_path, max_side, stride, threshold }, extra) => {
      const opened = await ctx.jobs.run(async () => {
        const predictor = await ctx.predictor();
        const started = await predictor.handleRequest({ type: "start_session", resource_path: video_path, max_side, stride, threshold });
        await sessions.add(started.session_id);
        return started;
      }, jobOptions(extra));
      const info = shown(opened);
      const note = info.decode_error ? ` Warning: ${info.decode_error}; the ${info.frames} frames that decoded are usable.` : "";
      return { content: [text(`Session ${info.session_id}: ${info.frames} frames, ${info.width}x${info.height} at ${info.fps} fps.${note}`)], structuredContent: { ...info } };
    }),
  );

  server.registerTool(
    "add_prompt",
    {
      title: "Prompt a video frame",
      description:
        'Adds a prompt on one frame of a session and returns that frame\'s objects. Text finds every instance of a concept (and starts the session over); points or a box with obj_id add or refine one object. Example: {"session_id": "...", "frame_index": 0, "points": [{"x": 320, "y": 200}], "obj_id": 1}. Then call propagate_in_video to track through the video.',
      inputSchema: { session_id: sessionId, frame_index: z.number().int().min(0), ...promptFields },
      outputSchema: { frame_index: z.number(), objects: z.array(frameObject) },
      _meta: viewerToolMeta(),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    guard("add_prompt", async ({ session_id, frame_index, ...prompt }, extra) => {
      sessions.check(session_id);
      const json = await ctx.jobs.run(async () => (await ctx.predictor()).addPrompt(session_id, toVideoPrompt(frame_index, prompt)), jobOptions(extra));
      const lines = json.objects.length ? objectLines(json.objects, "all in structuredContent") : "No objects.";
      return { content: [text(`Frame ${frame_index}: ${json.objects.length} object(s).\n${lines}`)], structuredContent: { ...json } };
    }),
  );

  server.registerTool(
    "propagate_in_video",
    {
      title: "Track through the video",
      description:
        "Tracks the session's objects through the video from the prompted frame (both directions by default). Returns a per-object summary (frames present, first/last frame, mean area and score); the full per-frame masks are written to a JSON-lines file returned as a resource link, and each frame can be read as sam3://sessions/{session_id}/frames/{frame}. Reports progress when asked; cancelling the call stops it within a frame.",
      inputSchema: {
        session_id: sessionId,
        propagation_direction: z.enum(DIRECTIONS).default("both"),
        start_frame_index: z.number().int().min(0).optional(),
        max_frame_num_to_track: z.number().int().min(0).optional().describe("At most this many frames in each direction."),
      },
      outputSchema: { frames: z.number(), cancelled: z.boolean(), objects: z.array(objectSummary), results: fileLink },
      _meta: viewerToolMeta(),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    guard("propagate_in_video", async (args, extra) => {
      sessions.check(args.session_id);
      return ctx.jobs.run(async () => {
        const predictor = await ctx.predictor();
        const { session_id, propagation_direction: direction, start_frame_index: start, max_frame_num_to_track: maxFrames } = args;
        const report = await propagateToFile(ctx, predictor, session_id, { direction, start, maxFrames }, extra);
        const results = { uri: ctx.paths.outputUri(report.file), name: "frames.jsonl", mimeType: "application/jsonl" };
        const summary = `${report.cancelled ? "Cancelled after" : "Tracked"} ${report.frames} frames: ${report.objects.length} object(s).\n` +
          (report.objects.length ? trackLines(report.objects, predictor, session_id, "all in structuredContent and the frames file") : "No objects.");
        return {
          content: [text(summary), { type: "resource_link" as const, ...results, description: "one JSON line per frame: objects with COCO RLE masks" }],
          structuredContent: { frames: report.frames, cancelled: report.cancelled, objects: report.objects, results },
        };
      }, jobOptions(extra));
    }),
  );
}

/** remove_object, reset_session, close_session and list_sessions: bookkeeping, no model run. */
function registerLifecycleTools(server: McpServer, ctx: McpContext, sessions: ClientSessions, guard: Guard) {
  server.registerTool(
    "remove_object",
    {
      title: "Remove a tracked object",
      description: "Removes an object from a session and from every frame's results; nothing is re-run and its id is never reused.",
      inputSchema: { session_id: sessionId, obj_id: z.number().int().min(0) },
      outputSchema: { session_id: z.string(), obj_id: z.number(), object_ids: z.array(z.number()) },
      _meta: viewerToolMeta(),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    guard("remove_object", async ({ session_id, obj_id }) => {
      sessions.check(session_id);
      const predictor = await ctx.predictor();
      await predictor.handleRequest({ type: "remove_object", session_id, obj_id });
      const { object_ids } = await predictor.handleRequest({ type: "get_session", session_id });
      return { content: [text(`Removed object ${obj_id}; objects left: ${object_ids.join(", ") || "none"}.`)], structuredContent: { session_id, obj_id, object_ids } };
    }),
  );

  server.registerTool(
    "reset_session",
    {
      title: "Clear a session's prompts",
      description: "Removes every prompt and object of a session; the video stays open.",
      inputSchema: { session_id: sessionId },
      outputSchema: { session_id: z.string() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    guard("reset_session", async ({ session_id }) => {
      sessions.check(session_id);
      await (await ctx.predictor()).handleRequest({ type: "reset_session", session_id });
      return { content: [text(`Session ${session_id} reset.`)], structuredContent: { session_id } };
    }),
  );

  server.registerTool(
    "close_session",
    {
      title: "Close a session",
      description: "Closes a session and frees its memory. Closing an unknown or closed session is not an error.",
      inputSchema: { session_id: sessionId },
      outputSchema: { session_id: z.string() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    guard("close_session", async ({ session_id }) => {
      // another client's session is left alone, answered like an unknown one
      if (sessions.owns(session_id)) {
        await (await ctx.predictor()).handleRequest({ type: "close_session", session_id });
        sessions.forget(session_id);
      }
      return { content: [text(`Session ${session_id} closed.`)], structuredContent: { session_id } };
    }),
  );

  server.registerTool(
    "list_sessions",
    {
      title: "List open sessions",
      description: "Lists the open video sessions: frames, size, objects, propagation progress and when each expires.",
      inputSchema: {},
      outputSchema: { sessions: z.array(sessionInfo) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guard("list_sessions", async () => {
      const mine = (await sessions.list()).map(shownTo(ctx));
      return { content: [text(mine.length ? mine.map((s) => `${s.session_id}: ${s.frames} frames, objects ${s.object_ids.join(", ") || "none"}`).join("\n") : "No open sessions.")], structuredContent: { sessions: mine } };
    }),
  );
}
