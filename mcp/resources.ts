import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { readFile } from "node:fs/promises";
import { extname } from "node:path";

import type { ClientSessions } from "./client-sessions";
import type { McpContext } from "./context";
import { guardResource } from "./tool-errors";

const TEXT_TYPES: Record<string, string> = { ".json": "application/json", ".jsonl": "application/jsonl" };
const BINARY_TYPES: Record<string, string> = { ".png": "image/png", ".mp4": "video/mp4" };

/** Results too large for a tool answer, served back by URI: the client's own sessions and the output folder's files. */
export function registerResources(server: McpServer, ctx: McpContext, sessions: ClientSessions) {
  server.registerResource(
    "session-frame",
    new ResourceTemplate("sam3://sessions/{session_id}/frames/{frame}", { list: undefined }),
    { title: "One frame's objects", description: "A session frame's objects (id, score, normalised box, area, COCO RLE mask) as JSON.", mimeType: "application/json" },
    guardResource(ctx.paths, async (uri, { session_id, frame }) => {
      sessions.check(String(session_id));
      const json = (await ctx.predictor()).frame(String(session_id), Number(frame));
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(json) }] };
    }, ctx.log),
  );

  server.registerResource(
    "output-file",
    new ResourceTemplate("sam3://outputs/{+path}", { list: undefined }),
    { title: "A result file", description: "A file this server wrote to its output folder (JSON lines, PNG, MP4)." },
    guardResource(ctx.paths, async (uri, { path }) => {
      const file = ctx.paths.output(String(path));
      const extension = extname(file);
      const data = await readFile(file);
      if (BINARY_TYPES[extension]) return { contents: [{ uri: uri.href, mimeType: BINARY_TYPES[extension], blob: data.toString("base64") }] };
      return { contents: [{ uri: uri.href, mimeType: TEXT_TYPES[extension] ?? "text/plain", text: data.toString("utf8") }] };
    }, ctx.log),
  );
}
