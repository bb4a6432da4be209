import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { dirname } from "node:path";
import { z } from "zod";
import { DIRECTIONS, Sam3Error } from "../../core";
import type { ClientSessions } from "../client-sessions";
import type { McpContext } from "../context";
import { fileLink, objectSummary } from "../schemas";
import { guardTool } from "../tool-errors";
import { propagateToFile } from "./propagation";
import { jobOptions } from "./tool-extra";
import { promptFields, toVideoPrompt } from "./video-prompts";

/** One call from a video and a prompt to tracks: opens a session, prompts frame 0 (or the one given), tracks, closes. */
export function registerSegmentVideo(server: McpServer, ctx: McpContext, sessions: ClientSessions) {
  server.registerTool(
    "segment_video",
    {
      title: "Track objects through a video",
      description: [
        "Finds and tracks objects through a whole video in one call, e.g. \"find every person in this clip\":",
        '{"video_path": "clips/street.mp4", "text": "person"}, or follow one clicked object: {"video_path": "clips/dog.mp4", "points": [{"x": 420, "y": 300}], "frame_index": 0}.',
        "Returns a per-object summary (frames present, first/last frame, mean area, mean score); per-frame masks (COCO RLE, JSON lines) and, if asked, an overlay MP4 are written to files returned as resource links.",
        "For several prompts or edits, use start_session / add_prompt / propagate_in_video instead.",
      ].join(" "),
      inputSchema: {
        video_path: z.string().describe("Inside the server's allowed folders: a video file, a folder of frames, or an image."),
        frame_index: z.number().int().min(0).default(0).describe("The frame the points / boxes are on."),
        ...promptFields,
        direction: z.enum(DIRECTIONS).default("both"),
        max_frames: z.number().int().min(0).optional().describe("Track at most this many frames in each direction."),
        max_side: z.number().int().positive().optional().describe("Downscale frames whose longer side is larger (e.g. 1280 for 4K)."),
        overlay_video: z.boolean().default(false).describe("Also write an MP4 with the objects drawn on every frame."),
      },
      outputSchema: { frames: z.number(), cancelled: z.boolean(), width: z.number(), height: z.number(), fps: z.number(), objects: z.array(objectSummary), files: z.array(fileLink) },
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    guardTool(ctx.paths, "segment_video", async (args, extra) => {
      if (args.text === undefined && !args.points?.length && !args.boxes?.length) throw new Sam3Error("BAD_REQUEST", "give text, points or boxes: what to track");
      return ctx.jobs.run(async () => {
        const predictor = await ctx.predictor();
        const info = await predictor.handleRequest({ type: "start_session", resource_path: args.video_path, max_side: args.max_side });
        const session_id = info.session_id;
        try {
          await sessions.add(session_id);
          const withObject = args.text === undefined && args.obj_id === undefined ? { ...args, obj_id: 1 } : args;
          await predictor.addPrompt(session_id, toVideoPrompt(args.frame_index, withObject));
          const report = await propagateToFile(ctx, predictor, session_id, { direction: args.direction, start: args.frame_index, maxFrames: args.max_frames }, extra);
          const files = [{ uri: ctx.paths.outputUri(report.file), name: "frames.jsonl", mimeType: "application/jsonl" }];
          if (args.overlay_video && !report.cancelled) {
            const [video] = await predictor.export(session_id, dirname(report.file), "overlay", { overlay: true });
            files.push({ uri: ctx.paths.outputUri(video), name: "overlay.mp4", mimeType: "video/mp4" });
          }
          const summary = `${report.cancelled ? "Cancelled after" : "Tracked"} ${report.frames} of ${info.frames} frames: ` +
            (report.objects.map((o) => `object ${o.id}${o.label ? ` (${o.label})` : ""} on ${o.frames_present} frames`).join("; ") || "nothing found");
          return {
            content: [{ type: "text" as const, text: summary }, ...files.map((f) => ({ type: "resource_link" as const, ...f }))],
            structuredContent: { frames: report.frames, cancelled: report.cancelled, width: info.width, height: info.height, fps: info.fps, objects: report.objects, files },
          };
        } finally {
          sessions.forget(session_id);
          await predictor.handleRequest({ type: "close_session", session_id });
        }
      }, jobOptions(extra));
    }, ctx.log),
  );
}
