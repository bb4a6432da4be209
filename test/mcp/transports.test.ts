import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstText, MCP_MAIN, rawHttp as raw, startHttpServer, stopServer, testServerOptions } from "../support/mcp";
import { REPO } from "../support/reference";

const TOKEN = "test-token-123";

type Result = { isError?: boolean; structuredContent?: any; content: any[] };

const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
const jsonHeaders = { "content-type": "application/json", accept: "application/json, text/event-stream" };

describe("MCP over stdio (the sam3-mcp command)", () => {
  it("lists the tools, segments an image, reports bad input and keeps serving", async () => {
    const { outputDir } = testServerOptions();
    const transport = new StdioClientTransport({ command: process.execPath, args: [MCP_MAIN, "--root", join(REPO, "examples"), "--out", outputDir!], stderr: "pipe" });
    const client = new Client({ name: "stdio-test", version: "1" });
    await client.connect(transport);
    try {
      expect((await client.listTools()).tools).toHaveLength(10);
      const bad = (await client.callTool({ name: "segment_image", arguments: { image_path: "missing.png", text: "cat" } })) as Result;
      expect(bad.isError).toBe(true);
      expect(firstText(bad)).toContain("does not exist");
      const good = (await client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", text: "red circle", threshold: 0, overlay: false } })) as Result;
      expect(good.structuredContent.objects).toHaveLength(16);
    } finally {
      await client.close();
      rmSync(outputDir!, { recursive: true, force: true });
    }
  });
});

describe("MCP over Streamable HTTP (sam3-mcp --http)", () => {
  let server: ChildProcess;
  let url: string;
  const { outputDir } = testServerOptions();

  beforeAll(async () => {
    ({ server, url } = await startHttpServer(outputDir!, ["--token", TOKEN]));
  });
  afterAll(async () => {
    await stopServer(server);
    rmSync(outputDir!, { recursive: true, force: true });
  });

  const connect = async () => {
    const client = new Client({ name: "http-test", version: "1" });
    const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
    await client.connect(transport);
    return { client, transport };
  };

  it("binds to loopback and serves tools with progress to an authorised client", async () => {
    expect(new URL(url).hostname).toBe("127.0.0.1");
    const { client, transport } = await connect();
    try {
      expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const progress: number[] = [];
      const result = (await client.callTool({ name: "segment_video", arguments: { video_path: "shapes.mp4", points: [{ x: 50, y: 80 }], max_frames: 4, direction: "forward" } }, undefined, { onprogress: (p) => progress.push(p.progress) })) as Result;
      expect(result.isError, firstText(result)).toBeFalsy();
      expect(result.structuredContent.frames).toBe(5);
      expect(progress).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it("keeps sessions apart: each client gets its own id, and an ended one is refused", async () => {
    const a = await connect();
    const b = await connect();
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
    const ended = a.transport.sessionId!;
    await a.transport.terminateSession();
    await a.client.close();
    const reply = await raw(url, { method: "POST", headers: { ...jsonHeaders, authorization: `Bearer ${TOKEN}`, "mcp-session-id": ended }, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) });
    expect(reply.status).toBe(404);
    expect((await b.client.listTools()).tools.length).toBe(10);
    await b.transport.terminateSession();
    await b.client.close();
  });

  it("refuses requests without the bearer token", async () => {
    const reply = await raw(url, { method: "POST", headers: jsonHeaders, body: initialize });
    expect(reply.status).toBe(401);
    const wrong = await raw(url, { method: "POST", headers: { ...jsonHeaders, authorization: "Bearer nope" }, body: initialize });
    expect(wrong.status).toBe(401);
  });

  it("refuses a foreign Host header (DNS rebinding) and a first request that is not initialize", async () => {
    const rebound = await raw(url, { method: "POST", headers: { ...jsonHeaders, authorization: `Bearer ${TOKEN}`, host: "evil.example:80" }, body: initialize });
    expect(rebound.status).toBe(403);
    const notInit = await raw(url, { method: "POST", headers: { ...jsonHeaders, authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
    expect(notInit.status).toBe(400);
  });
});
