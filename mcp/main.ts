#!/usr/bin/env node
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { parseArgs } from "node:util";
import { isSam3Error } from "../core/errors";
import { parseDevice } from "../core/runtime/devices";
import { McpContext } from "./context";
import { serveHttp } from "./http";
import { createSam3McpServer } from "./server";

const USAGE = `sam3-mcp [options]    SAM 3 segmentation tools for MCP clients

  (default)               serve over stdio
  --http                  serve Streamable HTTP at http://HOST:PORT/mcp instead
  --host H                HTTP address to bind (default 127.0.0.1)
  --port P                HTTP port (default 3333; 0 picks a free one)
  --allowed-host NAME     another Host header to accept (repeatable; DNS-rebinding protection)
  --token T               require "Authorization: Bearer T" (or set SAM3_MCP_TOKEN)
  --root DIR              a folder media may be read from (repeatable; default: the working directory)
  --out DIR               where results are written (default ./sam3-output)
  --model DIR|PRESET      model pack (default the bundled sam3-tiny-336, random weights)
  --device D              cpu | webgpu | cuda | tensorrt | coreml | dml
  --threads N             CPU threads per operator
  --max-sessions N        open video sessions at most (default 8)
  --max-jobs N            segmentation calls at once (default 2)
  --max-base64-mb N       largest inline image (default 20)`;

async function main() {
  const { values } = parseArgs({
    options: {
      http: { type: "boolean" },
      host: { type: "string" },
      port: { type: "string" },
      "allowed-host": { type: "string", multiple: true },
      token: { type: "string" },
      root: { type: "string", multiple: true },
      out: { type: "string" },
      model: { type: "string" },
      device: { type: "string" },
      threads: { type: "string" },
      "max-sessions": { type: "string" },
      "max-jobs": { type: "string" },
      "max-base64-mb": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void process.stdout.write(USAGE + "\n");
  const count = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  // stdout carries the protocol over stdio: everything human goes to stderr
  const log = (message: string) => process.stderr.write(`sam3-mcp: ${message}\n`);
  const ctx = new McpContext({
    roots: values.root,
    outputDir: values.out,
    model: values.model,
    device: values.device ? parseDevice(values.device) : undefined,
    threads: count(values.threads),
    maxSessions: count(values["max-sessions"]),
    maxJobs: count(values["max-jobs"]),
    maxBase64Bytes: values["max-base64-mb"] ? Number(values["max-base64-mb"]) * 2 ** 20 : undefined,
    log,
  });
  if (values.http) {
    const http = await serveHttp(ctx, {
      host: values.host ?? "127.0.0.1",
      port: count(values.port) ?? 3333,
      token: values.token ?? process.env.SAM3_MCP_TOKEN,
      allowedHosts: values["allowed-host"],
    });
    log(`listening on ${http.url}`);
    const stop = async () => {
      await http.close();
      await ctx.close();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  } else {
    const server = createSam3McpServer(ctx);
    await server.connect(new StdioServerTransport());
    process.stdin.once("end", async () => {
      await server.close();
      await ctx.close();
    });
  }
}

main().catch((e) => {
  process.stderr.write(`sam3-mcp: error: ${isSam3Error(e) || e?.code?.startsWith?.("ERR_PARSE_ARGS") ? e.message : (e?.stack ?? e)}\n`);
  process.exitCode = 1;
});
