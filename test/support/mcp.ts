import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { McpContext, type McpServerOptions } from "../../mcp/context";
import { createSam3McpServer } from "../../mcp/server";
import { REPO } from "./reference";

/** The examples folder as the only media root, and a fresh output folder. */
export function testServerOptions(extra: McpServerOptions = {}): McpServerOptions {
  return { roots: [join(REPO, "examples")], ...extra, outputDir: extra.outputDir ?? mkdtempSync(join(tmpdir(), "sam3-mcp-out-")) };
}

/** A client connected in memory to a server over one shared context. */
export async function connectInMemory(ctx: McpContext): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createSam3McpServer(ctx).connect(serverSide);
  const client = new Client({ name: "sam3-tests", version: "1.0.0" });
  await client.connect(clientSide);
  return client;
}

/** A client connected over Streamable HTTP, with a bearer token when given. */
export async function connectHttp(url: string, token?: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : undefined);
  const client = new Client({ name: "sam3-tests", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

/** A raw HTTP exchange, to send what a well-behaved client never would (a foreign Host or Origin, no token, a huge body). */
export function rawHttp(url: string, init: { method: string; headers: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    // the server may answer and close before a refused body is all sent
    req.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" || e.code === "ECONNRESET" ? undefined : reject(e)));
    req.end(init.body);
  });
}

/** Runs sam3-mcp with arguments that should stop it at startup; resolves with its exit status and stderr. */
export function runMcpToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MCP_MAIN, ...args], { timeout: 30_000 }, (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }));
  });
}

/** The text of a tool result's first content block. */
export const firstText = (result: { content?: unknown }) => ((result.content as { type: string; text?: string }[])[0]?.text ?? "");

export const MCP_MAIN = join(REPO, "dist", "mcp", "main.js");

/** Starts `sam3-mcp --http --port 0` with the examples as root; resolves with the process and its URL. */
export function startHttpServer(outputDir: string, extraArgs: string[] = []): Promise<{ server: ChildProcess; url: string }> {
  const server = spawn(process.execPath, [MCP_MAIN, "--http", "--port", "0", ...extraArgs, "--root", join(REPO, "examples"), "--out", outputDir], { stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    server.stderr!.on("data", (d) => {
      log += d;
      const match = /listening on (\S+)/.exec(log);
      if (match) resolve({ server, url: match[1] });
    });
    server.once("exit", () => reject(new Error(`sam3-mcp exited:\n${log}`)));
  });
}

/** Stops a server started by startHttpServer and waits for it to exit. */
export async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null) return;
  const exited = new Promise((r) => server.once("exit", r));
  server.kill("SIGTERM");
  await exited;
}
