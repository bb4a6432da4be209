import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ENGINE_HELP } from "../../core";
import { McpContext } from "../../mcp/context";
import { connectInMemory, MCP_MAIN, runMcpToExit, testServerOptions } from "../support/mcp";

/** sam3-mcp started with a command line it cannot serve: one `sam3-mcp: error:` line naming the problem, exit 2. */
describe("sam3-mcp command-line mistakes", () => {
  it.each([
    [["--prot", "3333"], "unknown option --prot (did you mean --port?)"],
    [["--max-job", "2"], "unknown option --max-job (did you mean --max-jobs?)"],
    [["--bogus"], "unknown option --bogus (see sam3-mcp --help)"],
    [["--port"], "--port needs a value"],
    [["--http", "--port", "abc"], '--port must be a whole number from 0 to 65535, got "abc"'],
    [["--threads", "-1"], '--threads must be a whole number from 1 to 256, got "-1"'],
    [["--root", "/nonexistent-sam3-root"], "the allowed folder /nonexistent-sam3-root does not exist"],
    [["stray"], 'unexpected argument "stray" (see sam3-mcp --help)'],
    [["--engine", "ftp://x"], `engine scheme ftp: is not supported: give ${ENGINE_HELP}`],
    [["--engine", "triton://h:8000?foo=1"], `engine option foo is unknown: give ${ENGINE_HELP}`],
    [["--engine", "triton://user:secret@h:8000"], `engine URL must not carry a user or password: give ${ENGINE_HELP}`],
  ])("%j", async (args, message) => {
    const { code, stderr } = await runMcpToExit(args);
    expect(code).toBe(2);
    expect(stderr).toBe(`sam3-mcp: error: ${message}\n`);
  });

  it("a --model it cannot open stops the start, not the first tool call", async () => {
    const { code, stderr } = await runMcpToExit(["--model", "no-such-pack"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^sam3-mcp: error: --model no-such-pack cannot be opened: UNKNOWN_PRESET: "no-such-pack" is neither a model pack folder nor a known preset [^\n]*\n$/);
  });

  it("a bad --engine stops the start before the model is looked at", async () => {
    const { code, stderr } = await runMcpToExit(["--model", "no-such-pack", "--engine", "ftp://x"]);
    expect(code).toBe(2);
    expect(stderr).toBe(`sam3-mcp: error: engine scheme ftp: is not supported: give ${ENGINE_HELP}\n`);
  });
});

describe("sam3-mcp on a Triton engine", () => {
  it("names the server's host:port in its instructions, never the URL's path or query", async () => {
    const options = testServerOptions({ engine: "triton://triton.internal:8001/gateway/v2?timeout=5&retries=1" });
    const ctx = new McpContext(options);
    const client = await connectInMemory(ctx);
    try {
      const instructions = client.getInstructions() ?? "";
      expect(instructions).toContain("Its graphs run on the Triton server triton.internal:8001;");
      expect(instructions).not.toMatch(/gateway|timeout|retries=/);
      expect(ctx.remote).toBe("triton.internal:8001");
    } finally {
      await client.close();
      await ctx.close();
      rmSync(options.outputDir!, { recursive: true, force: true });
    }
  });

  it("names the server in its startup line too", async () => {
    const outputDir = testServerOptions().outputDir!;
    const child = spawn(process.execPath, [MCP_MAIN, "--engine", "triton://127.0.0.1:9/v2?retries=0", "--out", outputDir], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    try {
      await expect.poll(() => stderr, { timeout: 30_000 }).toMatch(/\n$/);
      expect(stderr).toMatch(/^sam3-mcp: model sam3-tiny-336 on Triton 127\.0\.0\.1:9: text prompts/);
    } finally {
      child.stdin.end();
      await new Promise((r) => child.once("exit", r));
      rmSync(outputDir, { recursive: true, force: true });
    }
  });

  it("says nothing of a server when the graphs run in this process", async () => {
    const options = testServerOptions({ engine: "local" });
    const ctx = new McpContext(options);
    const client = await connectInMemory(ctx);
    try {
      expect(client.getInstructions()).not.toContain("Triton");
      expect(ctx.remote).toBeUndefined();
    } finally {
      await client.close();
      await ctx.close();
      rmSync(options.outputDir!, { recursive: true, force: true });
    }
  });
});
