import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { McpContext } from "../../mcp/context";
import { serveHttp } from "../../mcp/http";
import { connectHttp, connectInMemory, firstText, rawHttp, testServerOptions } from "../support/mcp";

type Result = { isError?: boolean; structuredContent?: any; content: unknown[] };
const call = (client: Client, name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<Result>;

/** Waits until `check` holds, for up to two seconds. */
async function eventually(check: () => Promise<boolean>) {
  for (let i = 0; i < 40 && !(await check()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await check()).toBe(true);
}

describe("video sessions belong to the MCP session that opened them (HTTP)", () => {
  const options = testServerOptions();
  const ctx = new McpContext(options);
  let http: Awaited<ReturnType<typeof serveHttp>>;

  beforeAll(async () => {
    http = await serveHttp(ctx, { host: "127.0.0.1", port: 0, maxBodyBytes: ctx.maxMessageBytes });
  });
  afterAll(async () => {
    await http.close();
    await ctx.close();
    rmSync(options.outputDir!, { recursive: true, force: true });
  });

  it("client B can neither list, read, prompt, export, reset nor close client A's session; A's sessions close when A leaves", async () => {
    const a = await connectHttp(http.url);
    const b = await connectHttp(http.url);
    const started = await call(a.client, "start_session", { video_path: "shapes.mp4" });
    const id = started.structuredContent.session_id;
    expect(started.structuredContent.resource_path).toBe("shapes.mp4");
    expect(JSON.stringify(started)).not.toContain(options.roots![0]);
    await call(a.client, "add_prompt", { session_id: id, frame_index: 0, obj_id: 1, points: [{ x: 50, y: 80 }] });

    expect((await call(b.client, "list_sessions", {})).structuredContent.sessions).toEqual([]);
    const asAbsent = async (tool: string, args: Record<string, unknown>) => {
      const foreign = await call(b.client, tool, { ...args, session_id: id });
      const absent = await call(b.client, tool, { ...args, session_id: "no-such-session" });
      expect(foreign.isError, tool).toBe(true);
      expect(firstText(foreign)).toBe(firstText(absent).replace("no-such-session", id));
      expect(firstText(foreign)).toMatch(/^UNKNOWN_SESSION: /);
    };
    await asAbsent("add_prompt", { frame_index: 0, obj_id: 2, points: [{ x: 60, y: 90 }] });
    await asAbsent("propagate_in_video", {});
    await asAbsent("export_masks", { formats: ["json"] });
    await asAbsent("remove_object", { obj_id: 1 });
    await asAbsent("reset_session", {});
    await expect(b.client.readResource({ uri: `sam3://sessions/${id}/frames/0` })).rejects.toThrow(/UNKNOWN_SESSION/);
    expect((await call(b.client, "close_session", { session_id: id })).isError).toBeFalsy();

    const mine = (await call(a.client, "list_sessions", {})).structuredContent.sessions;
    expect(mine.map((s: { session_id: string; object_ids: number[] }) => [s.session_id, s.object_ids])).toEqual([[id, [1]]]);
    expect(JSON.parse(((await a.client.readResource({ uri: `sam3://sessions/${id}/frames/0` })).contents[0] as { text: string }).text).objects).toHaveLength(1);

    await a.transport.terminateSession();
    await a.client.close();
    const predictor = await ctx.predictor();
    await eventually(async () => (await predictor.handleRequest({ type: "list_sessions" })).sessions.length === 0);
    await b.transport.terminateSession();
    await b.client.close();
  });
});

describe("an MCP session left without being ended (HTTP)", () => {
  const options = testServerOptions();
  const ctx = new McpContext(options);
  let http: Awaited<ReturnType<typeof serveHttp>>;
  const open = async () => (await (await ctx.predictor()).handleRequest({ type: "list_sessions" })).sessions.length;

  beforeAll(async () => {
    http = await serveHttp(ctx, { host: "127.0.0.1", port: 0, maxBodyBytes: ctx.maxMessageBytes, sessionIdleMs: 300 });
  });
  afterAll(async () => {
    await http.close();
    await ctx.close();
    rmSync(options.outputDir!, { recursive: true, force: true });
  });

  it("is closed with its video sessions once its client has gone quiet", async () => {
    const a = await connectHttp(http.url);
    await call(a.client, "start_session", { video_path: "shapes.mp4" });
    expect(await open()).toBe(1);
    // the client vanishes without ending its session (no DELETE)
    await a.client.close();
    await eventually(async () => (await open()) === 0);
  });

  it("is not closed while a call runs longer than the idle time", async () => {
    // raw requests: no event stream is held open between calls, only the call itself
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" };
    const post = async (message: object) => {
      const reply = await rawHttp(http.url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", ...message }) });
      if (reply.headers["mcp-session-id"]) headers["mcp-session-id"] = String(reply.headers["mcp-session-id"]);
      const data = reply.body.split("\n").find((l) => l.startsWith("data: "));
      return data ? JSON.parse(data.slice(6)) : undefined;
    };
    const tool = async (id: number, name: string, args: object) => (await post({ id, method: "tools/call", params: { name, arguments: args } })).result;
    await post({ id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
    await post({ method: "notifications/initialized" });
    const session_id = (await tool(2, "start_session", { video_path: "shapes.mp4" })).structuredContent.session_id;
    await tool(3, "add_prompt", { session_id, frame_index: 0, obj_id: 1, points: [{ x: 50, y: 80 }] });
    const started = Date.now();
    const run = await tool(4, "propagate_in_video", { session_id });
    expect(run.isError, JSON.stringify(run.content)).toBeFalsy();
    expect(run.structuredContent.frames).toBe(24);
    expect(Date.now() - started).toBeGreaterThan(600);
    await eventually(async () => (await open()) === 0);
  });
});

describe("MCP sessions at once (HTTP)", () => {
  it("refuses an initialize past the limit with 503 JSON until a session ends", async () => {
    const options = testServerOptions();
    const ctx = new McpContext(options);
    const http = await serveHttp(ctx, { host: "127.0.0.1", port: 0, maxBodyBytes: ctx.maxMessageBytes, maxClients: 2 });
    try {
      const [a, b] = [await connectHttp(http.url), await connectHttp(http.url)];
      await expect(connectHttp(http.url)).rejects.toThrow(/LIMIT_EXCEEDED: 2 MCP sessions are open/);
      await a.transport.terminateSession();
      await a.client.close();
      const c = await connectHttp(http.url);
      expect((await c.client.listTools()).tools).toHaveLength(10);
      await Promise.all([b, c].map(async (x) => (await x.transport.terminateSession(), await x.client.close())));
    } finally {
      await http.close();
      await ctx.close();
      rmSync(options.outputDir!, { recursive: true, force: true });
    }
  });
});

describe("session limits under concurrency", () => {
  it("16 concurrent start_session calls with max 8 open exactly 8; the rest are refused with LIMIT_EXCEEDED", async () => {
    // as many jobs as calls: the job queue must not be what keeps the sessions under the limit
    const options = testServerOptions({ maxSessions: 8, maxJobs: 16 });
    const ctx = new McpContext(options);
    const client = await connectInMemory(ctx);
    try {
      const results = await Promise.all(Array.from({ length: 16 }, () => call(client, "start_session", { video_path: "shapes.mp4" })));
      const opened = results.filter((r) => !r.isError);
      expect(opened).toHaveLength(8);
      expect(results.filter((r) => r.isError).map(firstText)).toEqual(Array(8).fill(expect.stringMatching(/^LIMIT_EXCEEDED: /)));
      const { sessions } = await (await ctx.predictor()).handleRequest({ type: "list_sessions" });
      expect(sessions).toHaveLength(8);
      expect((await call(client, "list_sessions", {})).structuredContent.sessions).toHaveLength(8);
      await call(client, "close_session", { session_id: opened[0].structuredContent.session_id });
      expect((await call(client, "start_session", { video_path: "shapes.mp4" })).isError).toBeFalsy();
    } finally {
      await client.close();
      await ctx.close();
      rmSync(options.outputDir!, { recursive: true, force: true });
    }
  });
});
