import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { build } from "esbuild";
import type { Page } from "playwright-core";
import { APP_MIME_TYPE, UI_EXTENSION_ID } from "../../mcp/app/viewer";
import type { McpContext } from "../../mcp/context";
import { createSam3McpServer } from "../../mcp/server";
import { REPO } from "../support/reference";

/** A client that announces the MCP Apps extension, as a host that shows apps does. */
export async function connectAppHost(ctx: McpContext): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createSam3McpServer(ctx).connect(serverSide);
  const client = new Client({ name: "sam3-app-host", version: "1.0.0" }, { capabilities: { extensions: { [UI_EXTENSION_ID]: { mimeTypes: [APP_MIME_TYPE] } } } });
  await client.connect(clientSide);
  return client;
}

/**
 * The smallest host a viewer needs, on the extension's own AppBridge: the app in a sandboxed iframe under the CSP its
 * resource declares, its tool calls and resource reads passed to the real server (through functions the test exposes),
 * what it tells the model kept in window.modelContext.
 */
const HOST_SCRIPT = `
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
window.modelContext = [];
window.startHost = async (html, csp) => {
  const policy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: " + csp.resourceDomains.join(" ") + "; connect-src 'none' " + csp.connectDomains.join(" ");
  const iframe = document.createElement("iframe");
  iframe.id = "app";
  iframe.sandbox = "allow-scripts";
  iframe.style.cssText = "width: 700px; height: 560px; border: 0; outline: 1px solid #ccc";
  iframe.srcdoc = html.replace("<head>", '<head><meta http-equiv="Content-Security-Policy" content="' + policy + '">');
  document.body.append(iframe);
  const bridge = new AppBridge(null, { name: "test-host", version: "1.0.0" }, { serverTools: {}, serverResources: {}, updateModelContext: { text: {} } });
  bridge.oncalltool = (params) => window.hostCallTool(params);
  bridge.onreadresource = (params) => window.hostReadResource(params);
  bridge.onupdatemodelcontext = async (params) => { window.modelContext.push(params); return {}; };
  const initialized = new Promise((resolve) => (bridge.oninitialized = resolve));
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  await initialized;
  window.showResult = async (input, result) => {
    await bridge.sendToolInput({ arguments: input });
    await bridge.sendToolResult(result);
  };
};
`;

export interface ToolCall {
  name: string;
  arguments?: Record<string, unknown>;
}

/** Opens the host page on `page`, the viewer's HTML inside it; resolves once the viewer has connected. */
export async function openHost(page: Page, client: Client, viewer: { html: string; csp: { connectDomains: string[]; resourceDomains: string[] } }): Promise<ToolCall[]> {
  const calls: ToolCall[] = [];
  await page.exposeFunction("hostCallTool", (params: ToolCall) => {
    calls.push(params);
    return client.callTool(params);
  });
  await page.exposeFunction("hostReadResource", (params: { uri: string }) => client.readResource(params));
  const bundle = await build({ stdin: { contents: HOST_SCRIPT, resolveDir: REPO, loader: "js" }, bundle: true, format: "iife", write: false });
  await page.setContent("<!doctype html><html><body></body></html>");
  await page.addScriptTag({ content: bundle.outputFiles[0].text });
  await page.evaluate(({ html, csp }) => (window as unknown as { startHost: (h: string, c: unknown) => Promise<void> }).startHost(html, csp), viewer);
  return calls;
}
