import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { rmdir } from "node:fs/promises";
import { z } from "zod";
import { fileStem } from "../../core";
import type { ClientSessions } from "../client-sessions";
import type { McpContext } from "../context";
import { linkBlocks, linkFiles } from "../file-links";
import { fileLink } from "../schemas";
import { guardTool } from "../tool-errors";
import { jobOptions } from "./tool-extra";

export function registerExportMasks(server: McpServer, ctx: McpContext, sessions: ClientSessions) {
  server.registerTool(
    "export_masks",
    {
      title: "Export a session's masks",
      description:
        'Writes a video session\'s results to files in the server\'s output folder and returns them as resource links: "json" (per-frame COCO RLE, JSON lines), "png" (one PNG sequence per object), "cutouts" (each object cut out of each frame on a transparent background), "polygons" (per-frame outlines, JSON lines), "overlay" (MP4 with the objects drawn). Example: {"session_id": "...", "formats": ["overlay", "png"]}.',
      inputSchema: {
        session_id: z.string(),
        formats: z.array(z.enum(["json", "png", "cutouts", "polygons", "overlay"])).min(1).default(["json"]),
        tolerance: z.number().min(0).default(1).describe("Polygon simplification, in pixels."),
      },
      outputSchema: { folder: z.string(), file_count: z.number(), files: z.array(fileLink) },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    guardTool(ctx.paths, "export_masks", async ({ session_id, formats, tolerance }, extra) => {
      sessions.check(session_id);
      return ctx.jobs.run(async () => {
        const predictor = await ctx.predictor();
        const folder = await ctx.jobFolder(`${session_id}-export`);
        const has = (f: string) => formats.includes(f as never);
        const stem = fileStem(predictor.info(session_id).resource_path, "video");
        const written = await predictor.export(session_id, folder, stem, { json: has("json"), png: has("png"), cutouts: has("cutouts"), polygons: has("polygons"), overlay: has("overlay"), tolerance }).catch(async (e) => {
          // the export removes what it wrote; the folder made for it goes too
          await rmdir(folder).catch(() => undefined);
          throw e;
        });
        const { files, total, text } = await linkFiles(ctx.paths, folder, written);
        return {
          content: [{ type: "text" as const, text }, ...linkBlocks(files)],
          structuredContent: { folder: ctx.paths.outputUri(folder), file_count: total, files },
        };
      }, jobOptions(extra));
    }, ctx.log),
  );
}
