import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { randomUUID, timingSafeEqual } from "node:crypto";
import type { Server } from "node:http";
import type { McpContext } from "./context";
import { createSam3McpServer } from "./server";

export interface HttpOptions {
  host: string;
  port: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Host names accepted besides the bound one (DNS-rebinding protection). */
  allowedHosts?: string[];
}

interface Connection {
  transport: StreamableHTTPServerTransport;
  close: () => Promise<void>;
}

/**
 * Streamable HTTP at /mcp: a session id per client (issued at initialize, required after), one MCP server per
 * session over the shared context, Host checks against DNS rebinding, optional bearer token.
 */
export async function serveHttp(ctx: McpContext, options: HttpOptions): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const app = createMcpExpressApp({ host: options.host, allowedHosts: options.allowedHosts });
  const connections = new Map<string, Connection>();

  app.use("/mcp", (req, res, next) => {
    if (!options.token || bearerMatches(req.headers.authorization, options.token)) return next();
    res.status(401).set("WWW-Authenticate", 'Bearer realm="sam3-mcp"').json(rpcError("missing or wrong bearer token"));
  });

  app.post("/mcp", async (req, res) => {
    const id = req.headers["mcp-session-id"];
    const known = typeof id === "string" ? connections.get(id) : undefined;
    if (known) return known.transport.handleRequest(req, res, req.body);
    if (id !== undefined) return res.status(404).json(rpcError(`unknown MCP session ${id}: initialize again`));
    if (!isInitializeRequest(req.body)) return res.status(400).json(rpcError("the first request of a session must be initialize"));
    const server = createSam3McpServer(ctx);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => {
        connections.set(sessionId, { transport, close: () => server.close() });
      },
      onsessionclosed: (sessionId) => {
        connections.delete(sessionId);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) connections.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  const existing = async (req: { headers: Record<string, unknown> }, res: { status: (n: number) => { json: (b: unknown) => void } }) => {
    const id = req.headers["mcp-session-id"];
    const known = typeof id === "string" ? connections.get(id) : undefined;
    if (!known) return res.status(404).json(rpcError("unknown or missing MCP session id"));
    return known;
  };
  app.get("/mcp", async (req, res) => {
    const known = await existing(req, res);
    if (known) await known.transport.handleRequest(req, res);
  });
  app.delete("/mcp", async (req, res) => {
    const known = await existing(req, res);
    if (known) await known.transport.handleRequest(req, res);
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, options.host, () => resolve(s));
    s.once("error", reject);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    server,
    url: `http://${host}:${port}/mcp`,
    close: async () => {
      await Promise.all([...connections.values()].map((c) => c.close().catch(() => undefined)));
      connections.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? "")?.[1] ?? "");
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

const rpcError = (message: string) => ({ jsonrpc: "2.0", error: { code: -32000, message }, id: null });
