import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { rmdir } from "node:fs/promises";
import { extname } from "node:path";
import { z } from "zod";
import { listFiles } from "../../core";
import type { ClientSessions } from "../client-sessions";
import type { McpContext } from "../context";
import { fileLink } from "../schemas";
import { guardTool } from "../tool-errors";
import { jobOptions } from "./tool-extra";

const MIME: Record<string, string> = { ".jsonl": "application/jsonl", ".json": "application/json", ".png": "image/png", ".mp4": "video/mp4" };
/** Links returned inline at most; PNG sequences can hold thousands of files. */
const MAX_LINKS = 50;

export function registerExportMasks(server: McpServer, ctx: McpContext, sessions: ClientSessions) {
  server.registerTool(
    "export_masks",
    {
      title: "Export a session's masks",
      description:
        'Writes a video session\'s results to files in the server\'s output folder and returns them as resource links: "json" (per-frame COCO RLE, JSON lines), "png" (one PNG sequence per object), "polygons" (per-frame outlines, JSON lines), "overlay" (MP4 with the objects drawn). Example: {"session_id": "...", "formats": ["overlay", "png"]}.',
      inputSchema: {
        session_id: z.string(),
        formats: z.array(z.enum(["json", "png", "polygons", "overlay"])).min(1).default(["json"]),
        tolerance: z.number().min(0).default(1).describe("Polygon simplification, in pixels."),
      },
      outputSchema: { folder: z.string(), file_count: z.number(), files: z.array(fileLink) },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    guardTool(ctx.paths, "export_masks", async ({ session_id, formats, tolerance }, extra) => {
      sessions.check(session_id);
      return ctx.jobs.run(async () => {
        const predictor = await ctx.predictor();
        const folder = await ctx.paths.jobFolder(`${session_id}-export-${Date.now()}`);
        const has = (f: string) => formats.includes(f as never);
        const written = await predictor.export(session_id, folder, "masks", { json: has("json"), png: has("png"), polygons: has("polygons"), overlay: has("overlay"), tolerance }).catch(async (e) => {
          // the export removes what it wrote; the folder made for it goes too
          await rmdir(folder).catch(() => undefined);
          throw e;
        });
        const all = (await Promise.all(written.map(listFiles))).flat();
        const files = all.slice(0, MAX_LINKS).map((f) => ({ uri: ctx.paths.outputUri(f), name: f.slice(folder.length + 1), mimeType: MIME[extname(f)] ?? "application/octet-stream" }));
        const more = all.length > MAX_LINKS ? ` (the first ${MAX_LINKS} are linked)` : "";
        return {
          content: [{ type: "text" as const, text: `Wrote ${all.length} files${more}.` }, ...files.map((f) => ({ type: "resource_link" as const, ...f }))],
          structuredContent: { folder: ctx.paths.outputUri(folder), file_count: all.length, files },
        };
      }, jobOptions(extra));
    }, ctx.log),
  );
}
