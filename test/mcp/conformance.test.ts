import { execFile, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpServer, stopServer, testServerOptions } from "../support/mcp";

/**
 * The MCP conformance suite's scenarios that apply to a tools-and-resources server. The others exercise the
 * reference test server's own fixtures (test_image_content, prompts, sampling, elicitation, subscriptions).
 */
const APPLICABLE = ["server-initialize", "logging-set-level", "ping", "tools-list", "tools-call-error", "server-sse-multiple-streams", "resources-list", "dns-rebinding-protection"];

let server: ChildProcess;
let url: string;
const { outputDir } = testServerOptions();

beforeAll(async () => {
  ({ server, url } = await startHttpServer(outputDir!));
});
afterAll(async () => {
  await stopServer(server);
  rmSync(outputDir!, { recursive: true, force: true });
});

describe("@modelcontextprotocol/conformance against sam3-mcp --http", () => {
  it.each(APPLICABLE)("%s", async (scenario) => {
    const cli = require.resolve("@modelcontextprotocol/conformance/dist/index.js");
    const output = await new Promise<string>((resolve) => {
      execFile(process.execPath, [cli, "server", "--url", url, "--scenario", scenario], { timeout: 60_000 }, (_error, stdout, stderr) => resolve(stdout + stderr));
    });
    const summary = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(output);
    expect(summary, output).not.toBeNull();
    expect(summary![3], output).toBe("0");
    expect(summary![1]).toBe(summary![2]);
  });
});
