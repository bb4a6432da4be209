import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttp, firstText, rawHttp, runMcpToExit, startHttpServer, stopServer, testServerOptions } from "../support/mcp";

const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
const jsonHeaders = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** A refusal must be a JSON-RPC error in JSON, never an HTML page. */
function expectJsonError(reply: { status: number; headers: Record<string, unknown>; body: string }, status: number, message?: RegExp) {
  expect(reply.status, reply.body).toBe(status);
  expect(reply.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(reply.body);
  expect(body).toMatchObject({ jsonrpc: "2.0", error: { code: expect.any(Number), message: expect.any(String) } });
  if (message) expect(body.error.message).toMatch(message);
}

describe("MCP over HTTP: Host, Origin and body checks (sam3-mcp --http)", () => {
  let server: ChildProcess;
  let url: string;
  let port: string;
  const { outputDir } = testServerOptions();

  beforeAll(async () => {
    ({ server, url } = await startHttpServer(outputDir!, ["--allowed-host", "mcp.example.test", "--max-base64-mb", "1"]));
    port = new URL(url).port;
  });
  afterAll(async () => {
    await stopServer(server);
    rmSync(outputDir!, { recursive: true, force: true });
  });

  const post = (headers: Record<string, string>, body: string | Buffer = initialize) => rawHttp(url, { method: "POST", headers: { ...jsonHeaders, ...headers }, body });

  it("accepts no Origin (non-browser clients) and the server's own origins; refuses any other with 403 JSON", async () => {
    expect((await post({})).status).toBe(200);
    expect((await post({ origin: `http://localhost:${port}` })).status).toBe(200);
    expect((await post({ origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect((await post({ origin: "https://mcp.example.test" })).status).toBe(200);
    for (const origin of ["https://evil.example", "null", "http://localhost.evil.example", "file://", "http://127.0.0.1.nip.io"]) {
      expectJsonError(await post({ origin }), 403, /origin/);
    }
  });

  it("--allowed-host adds a Host name to the loopback defaults instead of replacing them", async () => {
    expect((await post({ host: "mcp.example.test" })).status).toBe(200);
    expect((await post({ host: `localhost:${port}` })).status).toBe(200);
    expect((await post({ host: `[::1]:${port}` })).status).toBe(200);
    expectJsonError(await post({ host: "evil.example" }), 403, /Host/);
    expectJsonError(await post({ host: `evil.example:${port}` }), 403, /Host/);
  });

  it("takes bodies up to the --max-base64-mb setting (far over the old 100 KB) and refuses larger ones with 413 JSON", async () => {
    // noise does not compress: 0.55 MiB of PNG, 0.74 MiB of base64 (the old body limit was 100 KB)
    const noisy = await sharp(randomBytes(440 * 440 * 3), { raw: { width: 440, height: 440, channels: 3 } }).png().toBuffer();
    const { client, transport } = await connectHttp(url);
    try {
      const result = (await client.callTool({ name: "segment_image", arguments: { image_base64: noisy.toString("base64"), points: [{ x: 20, y: 20 }], overlay: false } })) as { isError?: boolean; content: unknown[] };
      expect(result.isError, firstText(result)).toBeFalsy();
      expect(noisy.toString("base64").length).toBeGreaterThan(500_000);
      const big = JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "segment_image", arguments: { image_base64: "A".repeat(3 * 2 ** 20), text: "x" } } });
      const headers = { "mcp-session-id": transport.sessionId!, "mcp-protocol-version": "2025-06-18" };
      expectJsonError(await post(headers, big), 413, /^LIMIT_EXCEEDED/);
      expectJsonError(await rawHttp(url, { method: "POST", headers: { ...jsonHeaders, ...headers, "transfer-encoding": "chunked" }, body: big }), 413, /^LIMIT_EXCEEDED/);
      // the session still works after a refused body
      expect((await client.listTools()).tools.length).toBe(10);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it("answers bad JSON, a wrong path and a wrong method with JSON-RPC errors, not HTML", async () => {
    expectJsonError(await post({}, "{not json"), 400);
    expectJsonError(await rawHttp(url.replace("/mcp", "/other"), { method: "POST", headers: jsonHeaders, body: initialize }), 404);
    expectJsonError(await rawHttp(url, { method: "PUT", headers: jsonHeaders, body: initialize }), 405);
    expectJsonError(await rawHttp(url, { method: "GET", headers: { accept: "text/event-stream" } }), 404);
  });
});

describe("sam3-mcp startup checks", () => {
  const oneLine = (stderr: string) => expect(stderr.trim().split("\n")).toHaveLength(1);

  it("refuses a non-loopback address without a token, with one line and exit status 2", async () => {
    const { code, stderr } = await runMcpToExit(["--http", "--host", "0.0.0.0", "--port", "0"]);
    expect(code).toBe(2);
    oneLine(stderr);
    expect(stderr).toMatch(/without a token.*--insecure-no-token/);
  });

  it.each([
    [["--root", "/nonexistent-sam3-root"], /nonexistent-sam3-root does not exist/],
    [["--http", "--port", "abc"], /--port must be a whole number/],
    [["--out", "/proc/sam3-out"], /--out: making the output folder failed/],
    [["--http", "--port", "70000"], /--port must be a whole number/],
    [["--max-jobs", "0"], /--max-jobs must be a whole number/],
    [["--max-base64-mb", "lots"], /--max-base64-mb must be a whole number/],
    [["--no-such-option"], /unknown option --no-such-option/],
  ])("%j: one line, exit status 2", async (args, message) => {
    const { code, stderr } = await runMcpToExit(args);
    expect(code).toBe(2);
    oneLine(stderr);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\s+at /);
  });
});
