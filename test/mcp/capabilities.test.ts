import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { McpContext } from "../../mcp/context";
import { connectInMemory, firstText, MCP_MAIN, testServerOptions } from "../support/mcp";
import { REPO } from "../support/reference";
import { NO_TEXT, TRACKER_ONLY_CAN, TRACKER_ONLY_NAME, trackerOnlyPack } from "../support/tracker-pack";

type Result = { isError?: boolean; structuredContent?: any; content: any[] };

const pack = trackerOnlyPack();
const { outputDir } = testServerOptions();
let client: Client;
let stderr = "";

beforeAll(async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [MCP_MAIN, "--model", pack, "--root", join(REPO, "examples"), "--out", outputDir!], stderr: "pipe" });
  transport.stderr!.on("data", (d) => (stderr += d));
  client = new Client({ name: "capabilities-test", version: "1" });
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
  rmSync(pack, { recursive: true, force: true });
  rmSync(outputDir!, { recursive: true, force: true });
});

describe("sam3-mcp on a pack that can only track", () => {
  it("names the model and what it can do in one startup line on stderr and in its instructions", async () => {
    await expect.poll(() => stderr).toContain("\n");
    expect(stderr.split("\n").filter((l) => l.startsWith("sam3-mcp: model "))).toEqual([`sam3-mcp: model ${TRACKER_ONLY_NAME}: ${TRACKER_ONLY_CAN}`]);
    const instructions = client.getInstructions() ?? "";
    expect(instructions).toContain(`The model, ${TRACKER_ONLY_NAME}, can do: ${TRACKER_ONLY_CAN}.`);
    expect(instructions).not.toMatch(/can do: [^.]*text prompts/);
  });

  it("answers a text prompt with a MISSING_CAPABILITY tool error, and a click with a mask", async () => {
    const text = (await client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", text: "dog" } })) as Result;
    expect(text.isError).toBe(true);
    expect(firstText(text)).toMatch(new RegExp(`^MISSING_CAPABILITY: ${NO_TEXT.source}.*; the preset \\S+ has it$`));
    expect(firstText(text)).not.toContain(pack);
    const click = (await client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", points: [{ x: 320, y: 240 }], overlay: false } })) as Result;
    expect(click.isError).toBeFalsy();
    expect(click.structuredContent.objects).toHaveLength(1);
  });

  it("says in its instructions when the pack cannot be opened, without the server's paths", async () => {
    const ctx = new McpContext(testServerOptions({ model: join(REPO, "no-such-pack") }));
    const other = await connectInMemory(ctx);
    try {
      const instructions = other.getInstructions() ?? "";
      expect(instructions).toMatch(/The model \S*no-such-pack cannot be opened yet \(UNKNOWN_PRESET: .*\): every model-running tool fails until it can\./);
      expect(instructions).not.toContain(REPO);
    } finally {
      await other.close();
      await ctx.close();
      rmSync(ctx.paths.outputDir, { recursive: true, force: true });
    }
  });
});
