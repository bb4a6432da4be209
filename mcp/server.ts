import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../core";
import type { McpContext, ModelSummary } from "./context";
import { codeSdkToolErrors } from "./tool-errors";
import { registerResources } from "./resources";
import { registerViewer } from "./app/viewer";
import { registerExportMasks } from "./tools/export-masks";
import { registerSegmentImage } from "./tools/segment-image";
import { registerSegmentVideo } from "./tools/segment-video";
import { registerVideoSessionTools } from "./tools/video-sessions";

const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version;

/**
 * One MCP server (one per connection over HTTP) on the process's shared SAM 3 context. Its client sees only the
 * video sessions it opened, and they close when it disconnects.
 */
export function createSam3McpServer(ctx: McpContext): McpServer {
  const server = new McpServer(
    { name: "sam3-flow", title: "SAM 3 segmentation", version: PACKAGE_VERSION },
    {
      // clients may set a log level; the server sends nothing below it
      capabilities: { logging: {} },
      instructions:
        "SAM 3 segments images and videos. segment_image: every instance of a text concept, or one object from clicks / a box. segment_video: the same tracked through a video in one call; it returns a session_id that stays open. Both write mask PNGs, transparent cut-outs and overlays when asked (exports) and return them as resource links. For interactive video work: start_session, add_prompt, propagate_in_video, remove_object, export_masks, close_session. Paths are relative to the server's allowed folders; coordinates are pixels unless coordinates is \"relative\". Masks come as COCO RLE. " + aboutModel(ctx.model(), ctx.remote),
    },
  );
  codeSdkToolErrors(server);
  const sessions = ctx.clientSessions();
  server.server.onclose = () => void sessions.closeAll();
  registerSegmentImage(server, ctx);
  registerSegmentVideo(server, ctx, sessions);
  registerVideoSessionTools(server, ctx, sessions);
  registerExportMasks(server, ctx, sessions);
  registerResources(server, ctx, sessions);
  registerViewer(server, ctx, sessions);
  return server;
}

/** The instructions' last sentences: what this server's model can do, so a client asks only for that, and where it runs. */
function aboutModel(model: ModelSummary, remote: string | undefined): string {
  const where = remote ? ` Its graphs run on the Triton server ${remote}; while that server is down, model-running tools fail with REMOTE_UNAVAILABLE.` : "";
  if ("error" in model) return `The model ${model.name} cannot be opened yet (${model.error}): every model-running tool fails until it can.${where}`;
  return `The model, ${model.name}, can do: ${model.can}. A call that needs anything else fails with MISSING_CAPABILITY.${where}`;
}
