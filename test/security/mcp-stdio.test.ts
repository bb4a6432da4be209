import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idOfEnds } from "../../mcp/stdio";
import { firstText, MCP_MAIN, testServerOptions } from "../support/mcp";
import { REPO } from "../support/reference";

type Result = { isError?: boolean; structuredContent?: any; content: unknown[] };

describe("MCP over stdio: messages up to --max-base64-mb (the sam3-mcp command)", () => {
  const { outputDir } = testServerOptions();
  let transport: StdioClientTransport;
  let client: Client;
  let stderr = "";

  beforeAll(async () => {
    transport = new StdioClientTransport({ command: process.execPath, args: [MCP_MAIN, "--root", join(REPO, "examples"), "--out", outputDir!, "--max-base64-mb", "16"], stderr: "pipe" });
    transport.stderr!.on("data", (d) => (stderr += d));
    client = new Client({ name: "stdio-size-test", version: "1" });
    await client.connect(transport);
  });
  afterAll(async () => {
    await client.close();
    rmSync(outputDir!, { recursive: true, force: true });
  });

  it("segments an image sent as 12 MiB of base64 (the SDK's own stdio reader stops at 10 MiB)", async () => {
    // noise does not compress: 1800 x 1800 RGB is about 9.3 MiB of PNG, 12.4 MiB of base64
    const side = 1800;
    const png = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
    const base64 = png.toString("base64");
    expect(base64.length).toBeGreaterThan(12 * 2 ** 20);
    const result = (await client.callTool({ name: "segment_image", arguments: { image_base64: base64, points: [{ x: 100, y: 100 }], overlay: false } }, undefined, { timeout: 120_000 })) as Result;
    expect(result.isError, firstText(result)).toBeFalsy();
    expect(result.structuredContent.image).toEqual({ width: side, height: side });
  });

  it("answers a message over the limit with a JSON-RPC error and keeps serving", async () => {
    const tooBig = "A".repeat(24 * 2 ** 20);
    await expect(client.callTool({ name: "segment_image", arguments: { image_base64: tooBig, text: "x" } })).rejects.toThrow(/LIMIT_EXCEEDED: the message is 24\.0 MiB, larger than the 22\.3 MiB/);
    const next = (await client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", points: [{ x: 100, y: 100 }], overlay: false } })) as Result;
    expect(next.isError, firstText(next)).toBeFalsy();
    expect((await client.listTools()).tools).toHaveLength(10);
    expect(stderr).not.toMatch(/ReadBuffer|exceeded maximum/);
  });

  it("answers a base64 image over the decoded-size limit but inside the message limit with a tool error", async () => {
    const result = (await client.callTool({ name: "segment_image", arguments: { image_base64: "A".repeat(22 * 2 ** 20), text: "x" } })) as Result;
    expect(result.isError).toBe(true);
    expect(firstText(result)).toMatch(/^LIMIT_EXCEEDED: image_base64 is larger than the 16 MiB/);
  });
});

describe("the id of a refused message, read from its ends", () => {
  it.each([
    ['{"method":"tools/call","params":{"x":"AAAA"},"jsonrpc":"2.0","id":7}', 7],
    ['{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{}}', "abc"],
    ['{"id":12,"jsonrpc":"2.0","method":"x"}', 12],
    ['{"method":"x","params":{"inner":{"id":5}}}', null],
    ['{"method":"notifications/x"}', null],
  ])("%s", (line, id) => {
    expect(idOfEnds(line.slice(0, 40), line.slice(-40))).toBe(id);
  });
});
