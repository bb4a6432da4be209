/**
 * Bad input for the MCP server, kept as data in corpus/mcp.json. Each entry is one of:
 *   { "name", "tool": "<tool>", "arguments": {...}, "code": "<Sam3Error code>" }   a tool call: isError, text "CODE: ..."
 *   { "name", "resource": "<uri>", "code": "<Sam3Error code>" }                     a resource read: a JSON-RPC error naming CODE
 *   { "name", "http": { "method"?, "path"?, "headers"?, "body"? }, "code": <HTTP status> }  a raw request to /mcp
 * Tool and resource entries run over both the in-memory and the Streamable HTTP transport. In strings, $ROOT and
 * $OUTSIDE are the media root and a folder beside it, $FOREIGN_SESSION a session another client opened, $PORT the
 * server's port. HTTP entries start from a valid initialize POST with the token; a header set to null is left out,
 * and a body { "repeat": "A", "bytes": N } is N bytes of it. After all, the server must still answer.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { McpContext } from "../../mcp/context";
import { serveHttp } from "../../mcp/http";
import { connectHttp, connectInMemory, firstText, rawHttp } from "../support/mcp";
import { REPO, SCENE } from "../support/reference";

interface HttpCase {
  method?: string;
  path?: string;
  headers?: Record<string, string | null>;
  body?: string | { repeat: string; bytes: number };
}
type Case = { name: string; code: string | number } & ({ tool: string; arguments: Record<string, unknown> } | { resource: string } | { http: HttpCase });

const CORPUS: Case[] = JSON.parse(readFileSync(join(__dirname, "corpus", "mcp.json"), "utf8"));
const TOKEN = "corpus-token";
const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "corpus", version: "1" } } });

describe(`MCP bad-input corpus (${CORPUS.length} cases)`, () => {
  const base = mkdtempSync(join(tmpdir(), "sam3-mcp-corpus-"));
  const root = join(base, "root");
  const outside = join(base, "outside");
  const out = join(base, "out");
  let ctx: McpContext;
  let http: Awaited<ReturnType<typeof serveHttp>>;
  let memory: Client;
  let overHttp: Awaited<ReturnType<typeof connectHttp>>;
  let foreign: Client;
  let foreignSession: string;

  const fill = (value: unknown): unknown => {
    if (typeof value === "string") {
      return value.replaceAll("$ROOT", root).replaceAll("$OUTSIDE", outside).replaceAll("$FOREIGN_SESSION", foreignSession).replaceAll("$PORT", new URL(http.url).port);
    }
    if (Array.isArray(value)) return value.map(fill);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]));
    return value;
  };

  beforeAll(async () => {
    for (const dir of [root, outside, out, join(root, "frames-evil")]) mkdirSync(dir, { recursive: true });
    copyFileSync(SCENE, join(root, "scene.png"));
    copyFileSync(join(REPO, "examples", "shapes.mp4"), join(root, "shapes.mp4"));
    copyFileSync(SCENE, join(outside, "secret.png"));
    writeFileSync(join(outside, "secret.txt"), "secret");
    writeFileSync(join(root, "notes.txt"), "not an image");
    writeFileSync(join(root, "empty.png"), "");
    symlinkSync(join(outside, "secret.png"), join(root, "link-out.png"));
    symlinkSync(outside, join(root, "link-dir"));
    copyFileSync(SCENE, join(root, "frames-evil", "000000.png"));
    symlinkSync(join(outside, "secret.png"), join(root, "frames-evil", "000001.png"));
    symlinkSync(join(outside, "secret.txt"), join(out, "escape.json"));
    ctx = new McpContext({ roots: [root], outputDir: out });
    http = await serveHttp(ctx, { host: "127.0.0.1", port: 0, token: TOKEN, maxBodyBytes: ctx.maxMessageBytes });
    memory = await connectInMemory(ctx);
    overHttp = await connectHttp(http.url, TOKEN);
    foreign = await connectInMemory(ctx);
    const started = (await foreign.callTool({ name: "start_session", arguments: { video_path: "shapes.mp4" } })) as unknown as { structuredContent: { session_id: string } };
    foreignSession = started.structuredContent.session_id;
  });
  afterAll(async () => {
    await Promise.all([memory.close(), overHttp.client.close(), foreign.close()]);
    await http.close();
    await ctx.close();
    rmSync(base, { recursive: true, force: true });
  });

  const transports = () => [["in-memory", memory], ["HTTP", overHttp.client]] as const;

  it.each(CORPUS.map((c) => [c.name, c] as const))("%s", async (_name, entry) => {
    if ("tool" in entry) {
      for (const [transport, client] of transports()) {
        const result = (await client.callTool({ name: entry.tool, arguments: fill(entry.arguments) as Record<string, unknown> })) as { isError?: boolean; content: unknown[] };
        expect(result.isError, `${transport}: ${firstText(result)}`).toBe(true);
        expect(firstText(result), transport).toMatch(new RegExp(`^${entry.code}: `));
        expect(firstText(result), transport).not.toContain(base);
      }
    } else if ("resource" in entry) {
      for (const [transport, client] of transports()) {
        const error = await client.readResource({ uri: fill(entry.resource) as string }).then(() => undefined, (e: Error) => e);
        expect(error?.message, transport).toMatch(new RegExp(`${entry.code}: `));
        expect(error?.message, transport).not.toContain(base);
      }
    } else {
      const { method = "POST", path = "/mcp", headers = {}, body = initialize } = fill(entry.http) as HttpCase;
      const sent = { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${TOKEN}`, ...headers };
      const reply = await rawHttp(http.url.replace("/mcp", path), {
        method,
        headers: Object.fromEntries(Object.entries(sent).filter((kv): kv is [string, string] => kv[1] !== null)),
        body: typeof body === "string" ? body : Buffer.alloc(body.bytes, body.repeat),
      });
      expect(reply.status, reply.body).toBe(entry.code);
      expect(reply.headers["content-type"]).toMatch(/^application\/json/);
      expect(JSON.parse(reply.body).error.message).toEqual(expect.any(String));
    }
  });

  it("still serves every transport after the whole corpus", async () => {
    for (const [transport, client] of transports()) {
      const result = (await client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", points: [{ x: 100, y: 100 }], overlay: false } })) as { isError?: boolean; content: unknown[] };
      expect(result.isError, `${transport}: ${firstText(result)}`).toBeFalsy();
    }
    const { sessions } = await (await ctx.predictor()).handleRequest({ type: "list_sessions" });
    expect(sessions.map((s) => s.session_id)).toEqual([foreignSession]);
  });
});
