#!/usr/bin/env node
import { ensureFolder, isSam3Error, parseDevice, readCommandLine, Sam3Error, wholeNumberOption } from "../core";
import { McpContext } from "./context";
import { serveHttp } from "./http";
import { createSam3McpServer } from "./server";
import { LineStdioTransport } from "./stdio";

const USAGE = `sam3-mcp [options]    SAM 3 segmentation tools for MCP clients

  (default)               serve over stdio
  --http                  serve Streamable HTTP at http://HOST:PORT/mcp instead
  --host H                HTTP address to bind (default 127.0.0.1; another needs --token)
  --port P                HTTP port (default 3333; 0 picks a free one)
  --allowed-host NAME     another Host / Origin name to accept besides loopback and the bound address (repeatable)
  --token T               require "Authorization: Bearer T" (or set SAM3_MCP_TOKEN)
  --insecure-no-token     serve a non-loopback address without a token anyway
  --root DIR              a folder media may be read from (repeatable; default: the working directory)
  --out DIR               where results are written (default ./sam3-output)
  --retention SPEC        how long results stay in --out: an age (24h, 7d), a size (500MiB, 2GiB), both, or off
                          (default 24h,2GiB; the oldest go first, only the result folders this server names)
  --model DIR|PRESET      model pack (default the bundled sam3-tiny-336, random weights)
  --device D              cpu | webgpu | cuda | tensorrt | coreml | dml
  --engine URL            run the graphs on a Triton server: triton://host:8000 (http:// and https:// too;
                          ?timeout=SECONDS&retries=N; default local, in this process; see docs/scaling.md)
  --threads N             CPU threads per operator
  --max-sessions N        open video sessions at most (default 8)
  --max-jobs N            model-running calls at once (default 2)
  --max-queue N           calls waiting for the model at most (default 256)
  --queue-timeout S       seconds a call may wait for the model (default 600)
  --max-base64-mb N       largest inline image in MiB (default 20); a message may carry its base64 (4/3 as
                          large) and 1 MiB more`;

/** A command-line mistake: one line, exit status 2. */
class UsageError extends Error {}

async function main() {
  const { values } = readCommandLine(
    {
      args: process.argv.slice(2),
      options: {
        http: { type: "boolean" },
        host: { type: "string" },
        port: { type: "string" },
        "allowed-host": { type: "string", multiple: true },
        token: { type: "string" },
        "insecure-no-token": { type: "boolean" },
        root: { type: "string", multiple: true },
        out: { type: "string" },
        retention: { type: "string" },
        model: { type: "string" },
        device: { type: "string" },
        engine: { type: "string" },
        threads: { type: "string" },
        "max-sessions": { type: "string" },
        "max-jobs": { type: "string" },
        "max-queue": { type: "string" },
        "queue-timeout": { type: "string" },
        "max-base64-mb": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    },
    "sam3-mcp --help",
  );
  if (values.help) return void process.stdout.write(USAGE + "\n");
  // stdout carries the protocol over stdio: everything human goes to stderr
  const log = (message: string) => process.stderr.write(`sam3-mcp: ${message}\n`);
  const port = wholeNumberOption("port", values.port, 0, 65535) ?? 3333;
  const base64Mb = wholeNumberOption("max-base64-mb", values["max-base64-mb"], 1, 2048);
  const queueTimeout = wholeNumberOption("queue-timeout", values["queue-timeout"], 1);
  let ctx: McpContext;
  try {
    ctx = new McpContext({
      roots: values.root,
      outputDir: values.out,
      retention: values.retention,
      model: values.model,
      device: values.device ? parseDevice(values.device) : undefined,
      engine: values.engine,
      threads: wholeNumberOption("threads", values.threads, 1, 256),
      maxSessions: wholeNumberOption("max-sessions", values["max-sessions"], 1),
      maxJobs: wholeNumberOption("max-jobs", values["max-jobs"], 1),
      maxQueue: wholeNumberOption("max-queue", values["max-queue"], 0),
      queueTimeoutMs: queueTimeout === undefined ? undefined : queueTimeout * 1000,
      maxBase64Bytes: base64Mb === undefined ? undefined : base64Mb * 2 ** 20,
      log,
    });
  } catch (e) {
    throw isSam3Error(e) ? new UsageError(e.message) : e;
  }
  // a model that cannot be opened is said now, not on the first call that needs it
  const model = ctx.model();
  if ("error" in model) throw values.model ? new UsageError(`--model ${model.name} cannot be opened: ${model.error}`) : new Sam3Error("PACK_INVALID", `the bundled model cannot be opened: ${model.error}`);
  // an output folder that cannot be made is said now, not on the first call that writes
  await ensureFolder(ctx.paths.outputDir).catch((e: Error) => Promise.reject(new UsageError(`--out: ${e.message}`)));
  if (values.http) {
    const http = await serveHttp(ctx, {
      host: values.host ?? "127.0.0.1",
      port,
      token: values.token ?? process.env.SAM3_MCP_TOKEN,
      allowedHosts: values["allowed-host"],
      maxBodyBytes: ctx.maxMessageBytes,
      insecureNoToken: values["insecure-no-token"],
    }).catch((e: NodeJS.ErrnoException) => {
      if (isSam3Error(e)) throw new UsageError(e.message);
      if (e.code === "EADDRINUSE" || e.code === "EADDRNOTAVAIL" || e.code === "EACCES") throw new Sam3Error("BAD_OPTION", `cannot listen on ${values.host ?? "127.0.0.1"}:${port} (${e.code})`);
      throw e;
    });
    if (values["insecure-no-token"] && !values.token && !process.env.SAM3_MCP_TOKEN) log("warning: no token: anyone who can reach this address can use the server and read its allowed folders");
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
    await server.connect(new LineStdioTransport(ctx.maxMessageBytes));
    process.stdin.once("end", async () => {
      await server.close();
      await ctx.close();
    });
  }
  log(`model ${model.name}${ctx.remote ? ` on Triton ${ctx.remote}` : ""}: ${model.can}`);
}

main().catch((e) => {
  process.stderr.write(`sam3-mcp: error: ${e instanceof UsageError || isSam3Error(e) ? e.message : `unexpected failure: ${(e as Error)?.message ?? e}`}\n`);
  process.exitCode = e instanceof UsageError || (isSam3Error(e) && e.code === "BAD_OPTION") ? 2 : 1;
});
