import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { McpUiResourceMeta, McpUiToolMeta } from "@modelcontextprotocol/ext-apps" with { "resolution-mode": "import" };
import sharp from "sharp";
import { z } from "zod";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeImage, PACKAGE_ROOT, Sam3Error } from "../../core";
import type { ClientSessions } from "../client-sessions";
import type { McpContext } from "../context";
import { guardResource, guardTool } from "../tool-errors";

/** The MCP Apps extension's names (the package is ESM-only, this server CommonJS: a test holds them equal to its constants). */
export const UI_EXTENSION_ID = "io.modelcontextprotocol/ui";
export const APP_MIME_TYPE = "text/html;profile=mcp-app";
export const VIEWER_URI = "ui://sam3/viewer.html";
/** The built single-document viewer (npm run build bundles mcp/app/viewer/ into it). */
const VIEWER_FILE = join(PACKAGE_ROOT, "dist", "mcp", "app", "viewer.html");
/** Frames sent to the viewer are shrunk to this longer side: the masks are drawn over them scaled. */
const VIEW_MAX_SIDE = 1280;

/** No domain at all: the viewer loads nothing from the network, everything comes through the host's bridge. */
const VIEWER_CSP: McpUiResourceMeta = { csp: { connectDomains: [], resourceDomains: [], frameDomains: [] }, prefersBorder: true };

/** The _meta a tool declares to be shown in the viewer: both the nested key and the flat one older hosts read. */
export function viewerToolMeta(): { ui: McpUiToolMeta; "ui/resourceUri": string } {
  return { ui: { resourceUri: VIEWER_URI }, "ui/resourceUri": VIEWER_URI };
}

/**
 * The viewer resource and its app-only tool (the pixels of an image or a session frame, kept out of the model's
 * context). The tool is listed only to clients that announce the extension: others see today's tools unchanged.
 */
export function registerViewer(server: McpServer, ctx: McpContext, sessions: ClientSessions) {
  server.registerResource(
    "viewer",
    VIEWER_URI,
    { title: "SAM 3 viewer", description: "Interactive view of segment_image and segment_video results (MCP Apps).", mimeType: APP_MIME_TYPE, _meta: { ui: VIEWER_CSP } },
    guardResource(ctx.paths, async (uri) => ({ contents: [{ uri: uri.href, mimeType: APP_MIME_TYPE, text: await viewerHtml(), _meta: { ui: VIEWER_CSP } }] }), ctx.log),
  );
  const frameTool = registerFrameTool(server, ctx, sessions);
  frameTool.disable();
  const previous = server.server.oninitialized;
  server.server.oninitialized = () => {
    previous?.();
    if (server.server.getClientCapabilities()?.extensions?.[UI_EXTENSION_ID]) frameTool.enable();
  };
}

async function viewerHtml(): Promise<string> {
  try {
    return await readFile(VIEWER_FILE, "utf8");
  } catch {
    throw new Sam3Error("MISSING_CAPABILITY", "this install has no built viewer: run npm run build");
  }
}

function registerFrameTool(server: McpServer, ctx: McpContext, sessions: ClientSessions): RegisteredTool {
  const appOnly: McpUiToolMeta = { resourceUri: VIEWER_URI, visibility: ["app"] };
  return server.registerTool(
    "viewer_frame",
    {
      title: "A frame for the viewer",
      description: "For the SAM 3 viewer only: an image (image_path) or a session frame (session_id, frame_index) as a JPEG data URL; for a session, also the frame's objects and the frame count.",
      inputSchema: {
        image_path: z.string().optional(),
        session_id: z.string().optional(),
        frame_index: z.number().int().min(0).default(0),
      },
      _meta: { ui: appOnly },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guardTool(ctx.paths, "viewer_frame", async ({ image_path, session_id, frame_index }) => {
      if (!!image_path === !!session_id) throw new Sam3Error("BAD_REQUEST", "give exactly one of image_path and session_id");
      let image;
      let session: { objects: unknown[]; frames: number } | undefined;
      if (session_id) {
        sessions.check(session_id);
        const predictor = await ctx.predictor();
        image = await predictor.frameImage(session_id, frame_index);
        const { frames } = await predictor.handleRequest({ type: "get_session", session_id });
        session = { objects: predictor.frame(session_id, frame_index).objects, frames };
      } else {
        image = await decodeImage(ctx.paths.readable(image_path!));
      }
      const jpeg = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .resize(VIEW_MAX_SIDE, VIEW_MAX_SIDE, { fit: "inside", withoutEnlargement: true })
        .jpeg({ quality: 85 })
        .toBuffer();
      const structured = { width: image.width, height: image.height, frame_index, image: `data:image/jpeg;base64,${jpeg.toString("base64")}`, ...session };
      return { content: [{ type: "text" as const, text: `Frame ${frame_index} (${image.width}x${image.height}) sent to the viewer.` }], structuredContent: structured };
    }, ctx.log),
  );
}
