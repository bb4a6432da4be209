import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { dirname } from "node:path";
import { z } from "zod";
import { DIRECTIONS, fileStem } from "../../core";
import type { ClientSessions } from "../client-sessions";
import { viewerToolMeta } from "../app/viewer";
import type { McpContext } from "../context";
import { linkBlocks, linkFiles } from "../file-links";
import { trackLines } from "../object-lines";
import { fileLink, objectSummary, videoThreshold } from "../schemas";
import { guardTool } from "../tool-errors";
import { requirePrompt } from "./prompt-check";
import { propagateToFile } from "./propagation";
import { jobOptions } from "./tool-extra";
import { promptFields, toVideoPrompt } from "./video-prompts";

const VIDEO_EXPORTS = ["png", "cutouts", "overlay", "polygons"] as const;

/**
 * One call from a video and a prompt to tracks and files: opens a session, prompts frame 0 (or the one given),
 * tracks, writes the per-frame results and the asked exports, and leaves the session open for follow-up tools.
 */
export function registerSegmentVideo(server: McpServer, ctx: McpContext, sessions: ClientSessions) {
  server.registerTool(
    "segment_video",
    {
      title: "Track objects through a video",
      description: [
        "Finds and tracks objects through a whole video in one call, e.g. \"cut out every person in this clip\":",
        '{"video_path": "clips/street.mp4", "text": "person", "exports": ["png", "cutouts", "overlay"]}, or follow one clicked object: {"video_path": "clips/dog.mp4", "points": [{"x": 420, "y": 300}], "frame_index": 0}.',
        "Returns one line per object (id, label, mean score, frames, box on its first frame) and a session_id; per-frame masks (COCO RLE, JSON lines) and the asked exports are written to files returned as resource links.",
        "The session stays open (until close_session, the client leaves, or it is idle 30 minutes) for add_prompt, propagate_in_video, remove_object and export_masks.",
      ].join(" "),
      inputSchema: {
        video_path: z.string().describe("Inside the server's allowed folders: a video file, a folder of frames, or an image."),
        frame_index: z.number().int().min(0).default(0).describe("The frame the points / boxes are on."),
        ...promptFields,
        direction: z.enum(DIRECTIONS).default("both"),
        max_frames: z.number().int().min(0).optional().describe("Track at most this many frames in each direction."),
        max_side: z.number().int().positive().optional().describe("Downscale frames whose longer side is larger (e.g. 1280 for 4K)."),
        threshold: videoThreshold,
        exports: z
          .array(z.enum(VIDEO_EXPORTS))
          .optional()
          .describe('Files besides the per-frame JSON lines: "png" (a mask PNG sequence per object), "cutouts" (each object cut out of each frame, transparent around it, cropped to it), "overlay" (MP4 with the objects drawn), "polygons" (per-frame outlines, JSON lines).'),
        overlay_video: z.boolean().default(false).describe('The same as "overlay" in exports.'),
        keep_session: z.boolean().default(true).describe("Leave the session open for follow-up tools (its id is returned); false closes it at the end. Open sessions count against the server's session limit."),
      },
      outputSchema: {
        session_id: z.string(),
        session_open: z.boolean(),
        frames: z.number(),
        cancelled: z.boolean(),
        width: z.number(),
        height: z.number(),
        fps: z.number(),
        objects: z.array(objectSummary),
        file_count: z.number(),
        files: z.array(fileLink),
      },
      _meta: viewerToolMeta(),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    guardTool(ctx.paths, "segment_video", async (args, extra) => {
      requirePrompt(args, "track");
      return ctx.jobs.run(async () => {
        const predictor = await ctx.predictor();
        const info = await predictor.handleRequest({ type: "start_session", resource_path: args.video_path, max_side: args.max_side, threshold: args.threshold });
        const session_id = info.session_id;
        let keep = false;
        try {
          await sessions.add(session_id);
          const withObject = args.text === undefined && args.obj_id === undefined ? { ...args, obj_id: 1 } : args;
          await predictor.addPrompt(session_id, toVideoPrompt(args.frame_index, withObject));
          const report = await propagateToFile(ctx, predictor, session_id, { direction: args.direction, start: args.frame_index, maxFrames: args.max_frames }, extra);
          const wanted = new Set<string>([...(args.exports ?? []), ...(args.overlay_video ? ["overlay"] : [])]);
          const folder = dirname(report.file);
          const has = (format: (typeof VIDEO_EXPORTS)[number]) => wanted.has(format);
          // a cancelled run's exports would show only the frames it reached
          const exported = wanted.size && !report.cancelled
            ? await predictor.export(session_id, folder, fileStem(args.video_path, "video"), { png: has("png"), cutouts: has("cutouts"), overlay: has("overlay"), polygons: has("polygons") })
            : [];
          const linked = await linkFiles(ctx.paths, folder, [report.file, ...exported]);
          keep = args.keep_session;
          const lines = report.objects.length ? trackLines(report.objects, predictor, session_id, "all in structuredContent and the frames file") : "Nothing found.";
          const text = [
            `${report.cancelled ? "Cancelled after" : "Tracked"} ${report.frames} of ${info.frames} frames (${info.width}x${info.height} at ${info.fps} fps): ${report.objects.length} object(s).`,
            lines,
            keep ? `Session ${session_id} stays open for add_prompt, propagate_in_video, remove_object, export_masks and close_session.` : `Session ${session_id} is closed.`,
            linked.text,
          ].join("\n");
          return {
            content: [{ type: "text" as const, text }, ...linkBlocks(linked.files)],
            structuredContent: { session_id, session_open: keep, frames: report.frames, cancelled: report.cancelled, width: info.width, height: info.height, fps: info.fps, objects: report.objects, file_count: linked.total, files: linked.files },
          };
        } finally {
          if (!keep) {
            sessions.forget(session_id);
            await predictor.handleRequest({ type: "close_session", session_id });
          }
        }
      }, jobOptions(extra));
    }, ctx.log),
  );
}
