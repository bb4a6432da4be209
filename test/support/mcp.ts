import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { McpContext, type McpServerOptions } from "../../mcp/context";
import { createSam3McpServer } from "../../mcp/server";
import { REPO } from "./reference";

/** The examples folder as the only media root, and a fresh output folder. */
export function testServerOptions(extra: McpServerOptions = {}): McpServerOptions {
  return { roots: [join(REPO, "examples")], outputDir: mkdtempSync(join(tmpdir(), "sam3-mcp-out-")), ...extra };
}

/** A client connected in memory to a server over one shared context. */
export async function connectInMemory(ctx: McpContext): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createSam3McpServer(ctx).connect(serverSide);
  const client = new Client({ name: "sam3-tests", version: "1.0.0" });
  await client.connect(clientSide);
  return client;
}

/** The text of a tool result's first content block. */
export const firstText = (result: { content?: unknown }) => ((result.content as { type: string; text?: string }[])[0]?.text ?? "");
