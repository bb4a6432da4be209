import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { networkInterfaces } from "node:os";
import { Sam3Error } from "../core";
import type { McpContext } from "./context";
import { createSam3McpServer } from "./server";

export interface HttpOptions {
  host: string;
  port: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Host names accepted besides the loopback names and the bound address (DNS-rebinding protection). */
  allowedHosts?: string[];
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
  /** Serve a non-loopback address without a token anyway (anyone who reaches it can read the allowed folders). */
  insecureNoToken?: boolean;
  /** An MCP session unused this long is closed with its video sessions (default 30 minutes). */
  sessionIdleMs?: number;
  /** MCP sessions open at once at most (default 256): each holds a server object until it ends or idles out. */
  maxClients?: number;
}

interface Connection {
  transport: StreamableHTTPServerTransport;
  lastUsed: number;
  /** Requests (and open event streams) in progress: a session is idle only without any. */
  active: number;
}

/** Serves one request of a known session, keeping its idle clock stopped meanwhile. */
async function serveKnown(connection: Connection, req: IncomingMessage, res: ServerResponse, body?: unknown) {
  connection.active++;
  try {
    await connection.transport.handleRequest(req, res, body);
  } finally {
    connection.active--;
    connection.lastUsed = Date.now();
  }
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * Streamable HTTP at /mcp: a session id per client (issued at initialize, required after), one MCP server per
 * session over the shared context. Before any body is read, every request is checked: its Host and Origin must
 * name this server (against DNS rebinding and cross-site pages), its bearer token must match, and its body must
 * fit the limit. Every refusal is a JSON-RPC error in JSON.
 */
export async function serveHttp(ctx: McpContext, options: HttpOptions): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  if (!options.token && !isLoopback(options.host) && !options.insecureNoToken) {
    throw new Sam3Error("BAD_OPTION", `refusing to serve ${options.host} without a token: anyone who reaches it could read the allowed folders; give --token (or SAM3_MCP_TOKEN), bind to 127.0.0.1, or pass --insecure-no-token`);
  }
  const hosts = allowedHostNames(options);
  const connections = new Map<string, Connection>();
  const idleMs = options.sessionIdleMs ?? 30 * 60_000;
  // a client that goes without ending its session must not hold its video sessions for ever
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const { transport, lastUsed, active } of connections.values()) if (!active && now - lastUsed > idleMs) void transport.close().catch(() => undefined);
  }, Math.min(idleMs, 60_000)).unref();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const refusal = refuse(req, hosts, options.token);
    if (refusal) return reply(res, refusal.status, refusal.message, refusal.status === 401 ? { "www-authenticate": 'Bearer realm="sam3-mcp"' } : {});
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/mcp") return reply(res, 404, "not found: the MCP endpoint is /mcp");
    const id = req.headers["mcp-session-id"];
    const known = typeof id === "string" ? connections.get(id) : undefined;
    if (req.method === "GET" || req.method === "DELETE") {
      if (!known) return reply(res, 404, "unknown or missing MCP session id");
      return serveKnown(known, req, res);
    }
    if (req.method !== "POST") return reply(res, 405, `${req.method} is not served: use POST, GET or DELETE`, { allow: "GET, POST, DELETE" });
    const body = await readJsonBody(req, options.maxBodyBytes);
    if ("status" in body) return reply(res, body.status, body.message);
    if (known) return serveKnown(known, req, res, body.json);
    if (id !== undefined) return reply(res, 404, `unknown MCP session ${String(id)}: initialize again`);
    if (!isInitializeRequest(body.json)) return reply(res, 400, "the first request of a session must be initialize");
    const maxClients = options.maxClients ?? 256;
    if (connections.size >= maxClients) return reply(res, 503, `LIMIT_EXCEEDED: ${maxClients} MCP sessions are open, the limit; end one (DELETE /mcp) or try again later`);
    const server = createSam3McpServer(ctx);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => void connections.set(sessionId, { transport, lastUsed: Date.now(), active: 0 }),
      onsessionclosed: (sessionId) => void connections.delete(sessionId),
    });
    transport.onclose = () => {
      if (transport.sessionId) connections.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body.json);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      ctx.log?.(`HTTP request failed: ${(e as Error)?.stack ?? e}`);
      if (!res.headersSent) reply(res, 500, "INTERNAL: the request failed unexpectedly");
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    server,
    url: `http://${host}:${port}/mcp`,
    close: async () => {
      clearInterval(sweeper);
      await Promise.all([...connections.values()].map((c) => c.transport.close().catch(() => undefined)));
      connections.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The names a Host or Origin header may carry: loopback, the bound address (every interface's for 0.0.0.0), and the extra ones. */
function allowedHostNames({ host, allowedHosts = [] }: HttpOptions): Set<string> {
  const bound = host === "0.0.0.0" || host === "::" ? Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)) : [host];
  return new Set([...LOOPBACK_NAMES, ...bound.map(bracketed), ...allowedHosts].map((h) => h.toLowerCase()));
}

const bracketed = (address: string) => (address.includes(":") && !address.startsWith("[") ? `[${address}]` : address);

/** The host name of a Host header value without its port ("[::1]:3333" -> "[::1]"). */
function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(0, value.indexOf("]") + 1);
  return value.split(":")[0];
}

/** Why a request is refused before its body is read, or undefined when it may go on. */
function refuse(req: IncomingMessage, hosts: Set<string>, token: string | undefined): { status: number; message: string } | undefined {
  const host = req.headers.host;
  if (!host || !hosts.has(hostName(host))) return { status: 403, message: `the Host header ${host ?? "(none)"} is not one this server answers to; start it with --allowed-host NAME to add one` };
  const origin = req.headers.origin;
  if (origin !== undefined && !hosts.has(originHost(origin))) return { status: 403, message: `requests from the web origin ${origin} are not allowed` };
  if (token && !bearerMatches(req.headers.authorization, token)) return { status: 401, message: "missing or wrong bearer token" };
  return undefined;
}

function originHost(origin: string): string {
  try {
    return hostName(new URL(origin).host);
  } catch {
    return "";
  }
}

/** The request's JSON body, refused with 413 past `limit` bytes (without reading the rest) and 400 if not JSON. */
function readJsonBody(req: IncomingMessage, limit: number): Promise<{ json: unknown } | { status: number; message: string }> {
  const tooLarge = { status: 413, message: `LIMIT_EXCEEDED: the request body is larger than the ${(limit / 2 ** 20).toFixed(1)} MiB this server accepts (set by --max-base64-mb); pass a large image as image_path instead` };
  if (Number(req.headers["content-length"] ?? 0) > limit) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.pause();
        return resolve(tooLarge);
      }
      chunks.push(chunk);
    });
    req.on("error", () => resolve({ status: 400, message: "BAD_REQUEST: the request body could not be read" }));
    req.on("end", () => {
      if (size > limit) return;
      try {
        resolve({ json: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      } catch {
        resolve({ status: 400, message: "BAD_REQUEST: the request body is not valid JSON" });
      }
    });
  });
}

function reply(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  const code = /not valid JSON/.test(message) ? -32700 : -32000;
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null });
  // a refused body is not read: the connection closes after the answer rather than draining it
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...(status === 413 ? { connection: "close" } : {}), ...headers });
  res.end(body);
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? "")?.[1] ?? "");
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
