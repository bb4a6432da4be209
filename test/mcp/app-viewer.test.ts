import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Browser, FrameLocator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_MIME_TYPE, UI_EXTENSION_ID, VIEWER_URI } from "../../mcp/app/viewer";
import { McpContext } from "../../mcp/context";
import { describeInBrowser, launchChromium } from "../support/browser";
import { connectInMemory, firstText, testServerOptions } from "../support/mcp";
import { REPO } from "../support/reference";
import { cocoRleToMask, type CocoRle } from "../../core/masks/rle";
import type { Mask } from "../../core/masks/mask";
import { connectAppHost, openHost, type ToolCall } from "./app-host";

/** Set UPDATE_SCREENSHOTS=1 to refresh the README's screenshot in docs/. */
const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(REPO, "docs") : undefined;
const VIEWER_TOOLS = ["segment_image", "segment_video", "start_session", "add_prompt", "propagate_in_video", "remove_object"];

/** The extension's host-side helpers and schemas (an ES module, loaded as one). */
type Extension = typeof import("@modelcontextprotocol/ext-apps/app-bridge", { with: { "resolution-mode": "import" } });
type ToolShape = Parameters<Extension["getToolUiResourceUri"]>[0];
let ext: Extension;
let EXTENSION_ID: string;
beforeAll(async () => {
  ext = await import("@modelcontextprotocol/ext-apps/app-bridge");
  EXTENSION_ID = (await import("@modelcontextprotocol/ext-apps/server")).EXTENSION_ID;
});

type Result = { content: { type: string; text?: string }[]; structuredContent?: any; isError?: boolean };

type MaskedObject = { id: number; score: number; colour: string; rle: CocoRle };

/** The text of a read resource's first content. */
const contentText = (resource: { contents: unknown[] }) => (resource.contents[0] as { text: string }).text;

/**
 * A pixel of `target`'s mask that no other mask covers within `margin` pixels; with `edge`, one on the mask's edge
 * (drawn opaque), without, one whose whole neighbourhood is in the mask (where a pointer lands on it for sure).
 */
function pixelOnlyOf(objects: { id: number; mask: Mask }[], target: { id: number; mask: Mask }, margin: number, edge = false) {
  const { width, height, data } = target.mask;
  const covered = (o: { mask: Mask }, x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && o.mask.data[y * width + x] === 1;
  const around = (x: number, y: number, test: (x: number, y: number) => boolean) => {
    for (let dy = -margin; dy <= margin; dy++) for (let dx = -margin; dx <= margin; dx++) if (!test(x + dx, y + dy)) return false;
    return true;
  };
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      if (!data[y * width + x]) continue;
      if (!around(x, y, (u, v) => objects.every((o) => o.id === target.id || !covered(o, u, v)))) continue;
      const onEdge = !covered(target, x - 1, y) || !covered(target, x + 1, y) || !covered(target, x, y - 1) || !covered(target, x, y + 1);
      if (edge ? onEdge : around(x, y, (u, v) => covered(target, u, v))) return { x, y };
    }
  }
  return undefined;
}

/** The server with one client that shows apps and one that does not, over one context. */
function serverUnderTest() {
  const options = testServerOptions();
  const state = {} as { ctx: McpContext; host: Client; plain: Client };
  beforeAll(async () => {
    state.ctx = new McpContext(options);
    state.host = await connectAppHost(state.ctx);
    state.plain = await connectInMemory(state.ctx);
  });
  afterAll(async () => {
    await state.host?.close();
    await state.plain?.close();
    await state.ctx?.close();
    rmSync(options.outputDir!, { recursive: true, force: true });
  });
  return state;
}

async function readViewer(client: Client) {
  const { contents } = await client.readResource({ uri: VIEWER_URI });
  const content = contents[0] as { uri: string; mimeType: string; text: string; _meta?: { ui?: unknown } };
  return { content, ui: ext.McpUiResourceMetaSchema.parse(content._meta?.ui) };
}

describe("MCP App viewer: tools and resource as the extension defines them", () => {
  const server = serverUnderTest();

  it("uses the extension's own names for the MIME type and the capability", () => {
    expect(APP_MIME_TYPE).toBe(ext.RESOURCE_MIME_TYPE);
    expect(UI_EXTENSION_ID).toBe(EXTENSION_ID);
  });

  it("the result tools point at the viewer; the frame tool is app-only and listed only to hosts that show apps", async () => {
    const { tools } = await server.host.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const name of VIEWER_TOOLS) {
      expect(ext.getToolUiResourceUri(byName[name] as ToolShape), name).toBe(VIEWER_URI);
      ext.McpUiToolMetaSchema.parse(byName[name]._meta!.ui);
    }
    expect(ext.isToolVisibilityAppOnly(byName.viewer_frame as ToolShape)).toBe(true);
    expect(ext.getToolUiResourceUri(byName.list_sessions as ToolShape)).toBeUndefined();
    const plain = (await server.plain.listTools()).tools.map((t) => t.name);
    expect(plain).not.toContain("viewer_frame");
    expect(plain.length).toBe(tools.length - 1);
  });

  it("serves the viewer as one HTML document with the MCP Apps MIME type and a CSP that allows no domain", async () => {
    const { resources } = await server.host.listResources();
    expect(resources.find((r) => r.uri === VIEWER_URI)).toMatchObject({ mimeType: ext.RESOURCE_MIME_TYPE });
    const { content, ui } = await readViewer(server.host);
    expect(content.mimeType).toBe(ext.RESOURCE_MIME_TYPE);
    expect(ui.csp).toEqual({ connectDomains: [], resourceDomains: [], frameDomains: [] });
    expect(content.text).toMatch(/^<!doctype html>/i);
    // everything inline: no script, style or image fetched from anywhere
    expect(content.text).not.toMatch(/<script[^>]*\ssrc=|<link[^>]*stylesheet/i);
  });

  it("a host without the extension gets the same results, text and all, and cannot call the frame tool", async () => {
    const result = (await server.plain.callTool({ name: "segment_image", arguments: { image_path: "scene.png", text: "red circle", threshold: 0 } })) as Result;
    expect(firstText(result)).toContain("16 object(s)");
    const frame = (await server.plain.callTool({ name: "viewer_frame", arguments: { image_path: "scene.png" } })) as Result;
    expect(frame.isError).toBe(true);
  });

  it("the frame tool refuses paths outside the allowed folders without naming the server's folders", async () => {
    const result = (await server.host.callTool({ name: "viewer_frame", arguments: { image_path: "../../etc/passwd" } })) as Result;
    expect(result.isError).toBe(true);
    expect(firstText(result)).toMatch(/PATH_NOT_ALLOWED/);
    expect(firstText(result)).not.toContain(REPO);
  });
});

describeInBrowser("MCP App viewer in a host page (Chromium)", () => {
  const server = serverUnderTest();
  let browser: Browser;
  let page: Page;
  let app: FrameLocator;
  let calls: ToolCall[];
  const requests: string[] = [];
  const body = () => app.locator("body");
  const modelContext = () => page.evaluate(() => JSON.stringify((window as unknown as { modelContext: unknown[] }).modelContext));

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 760, height: 640 } });
    page.on("request", (r) => requests.push(r.url()));
    const { content, ui } = await readViewer(server.host);
    calls = await openHost(page, server.host, { html: content.text, csp: { connectDomains: ui.csp!.connectDomains!, resourceDomains: ui.csp!.resourceDomains! } });
    app = page.frameLocator("#app");
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** The model's call, made by the host, its input and result then handed to the viewer. */
  async function modelCalls(name: string, args: Record<string, unknown>): Promise<Result> {
    const result = (await server.host.callTool({ name, arguments: args })) as Result;
    expect(result.isError, firstText(result)).toBeFalsy();
    await page.evaluate(([input, r]) => (window as unknown as { showResult: (i: unknown, r: unknown) => Promise<void> }).showResult(input, r), [args, result] as const);
    return result;
  }

  /** Clicks the viewer's canvas at a picture pixel. */
  async function clickPixel(x: number, y: number, width: number, height: number, modifiers: ("Shift")[] = []) {
    const canvas = app.locator("#view");
    const box = (await canvas.boundingBox())!;
    await canvas.click({ position: { x: ((x + 0.5) / width) * box.width, y: ((y + 0.5) / height) * box.height }, modifiers });
    await expect.poll(() => body().getAttribute("data-busy")).toBeNull();
  }

  it("renders an image result: the picture, every object's mask in its colour, a chip per object, id and score on hover", async () => {
    const result = await modelCalls("segment_image", { image_path: "scene.png", text: "red circle", threshold: 0 });
    await expect.poll(() => body().getAttribute("data-objects")).toBe("16");
    // 16 objects, 5 masks inline: the rest were read from the full result resource
    expect(result.structuredContent.masks_left_out).toBe(11);
    expect(calls.map((c) => c.name)).toEqual(["viewer_frame"]);
    await expect.poll(() => app.locator(".chip").count()).toBe(16);
    const full = JSON.parse(contentText(await server.host.readResource({ uri: result.structuredContent.full_result.uri }))).objects as MaskedObject[];
    const masks = full.map((o) => ({ ...o, mask: cocoRleToMask(o.rle) }));
    const target = masks.find((o) => pixelOnlyOf(masks, o, 2))!;
    const inside = pixelOnlyOf(masks, target, 2)!;
    const canvas = app.locator("#view");
    const size = (await canvas.boundingBox())!;
    await canvas.hover({ position: { x: ((inside.x + 0.5) * size.width) / 640, y: ((inside.y + 0.5) * size.height) / 480 } });
    await expect.poll(() => app.locator("#tip").textContent()).toMatch(new RegExp(`^#${target.id} red circle\\s+score ${target.score.toFixed(3)}`));
    // a mask's edge is drawn opaque in the object's colour over the picture
    const edge = pixelOnlyOf(masks, target, 0, true)!;
    const rgb = await canvas.evaluate((c: HTMLCanvasElement, { x, y }) => Array.from(c.getContext("2d")!.getImageData(x, y, 1, 1).data.slice(0, 3)), edge);
    expect(rgb).toEqual([1, 3, 5].map((i) => parseInt(target.colour.slice(i, i + 2), 16)));
  });

  it("a click adds an object through segment_image; a shift-click refines it; the model is told; remove takes it away", async () => {
    await clickPixel(320, 240, 640, 480);
    await expect.poll(() => body().getAttribute("data-objects")).toBe("17");
    const click = calls.at(-1)!;
    expect(click).toMatchObject({ name: "segment_image", arguments: { image_path: "scene.png", points: [{ x: 320, y: 240, positive: true }] } });
    expect(await modelContext()).toContain("object #17");
    await expect.poll(() => app.locator(".chip.selected").textContent()).toBe("#17 clicked");

    await clickPixel(100, 100, 640, 480, ["Shift"]);
    expect(calls.at(-1)!.arguments!.points).toEqual([{ x: 320, y: 240, positive: true }, { x: 100, y: 100, positive: false }]);
    expect(await body().getAttribute("data-objects")).toBe("17");
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.locator("#app").screenshot({ path: join(SHOTS, "mcp-app.png") });
    }

    await app.locator("#remove").click();
    await expect.poll(() => body().getAttribute("data-objects")).toBe("16");
    expect(await modelContext()).toContain("removed object #17");
  });

  it("an image sent inline (image_base64) is drawn from the call's input, and clicks send it back", async () => {
    const image_base64 = readFileSync(join(REPO, "examples", "scene.png")).toString("base64");
    const before = calls.length;
    await modelCalls("segment_image", { image_base64, text: "blue square", threshold: 0.9, overlay: false });
    await expect.poll(() => app.locator("#status").textContent()).toMatch(/^\d+ object\(s\)/);
    expect(calls.length).toBe(before);
    expect(await app.locator("#view").evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([640, 480]);
    await clickPixel(320, 240, 640, 480);
    expect(calls.at(-1)).toMatchObject({ name: "segment_image", arguments: { image_base64, points: [{ x: 320, y: 240, positive: true }] } });
  });

  it("a video result scrubs frame by frame; a click round-trips to add_prompt; remove runs remove_object", async () => {
    const result = await modelCalls("segment_video", { video_path: "shapes.mp4", points: [{ x: 50, y: 80 }], max_frames: 3, direction: "forward" });
    const session = result.structuredContent.session_id;
    await expect.poll(() => app.locator("#frame-label").textContent()).toBe("frame 1 / 24");
    await expect.poll(() => body().getAttribute("data-objects")).toBe("1");
    expect(calls.at(-1)).toMatchObject({ name: "viewer_frame", arguments: { session_id: session, frame_index: 0 } });

    await app.locator("#scrub").evaluate((el: HTMLInputElement) => {
      el.value = "2";
      el.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await expect.poll(() => body().getAttribute("data-frame")).toBe("2");
    expect(calls.at(-1)).toMatchObject({ name: "viewer_frame", arguments: { session_id: session, frame_index: 2 } });
    await expect.poll(() => app.locator("#frame-label").textContent()).toBe("frame 3 / 24");

    await clickPixel(250, 180, 320, 240);
    expect(calls.at(-1)).toMatchObject({ name: "add_prompt", arguments: { session_id: session, frame_index: 2, obj_id: 2, points: [{ x: 250, y: 180, positive: true }] } });
    await expect.poll(() => body().getAttribute("data-objects")).toBe("2");
    expect(await modelContext()).toContain("Frame 2: 2 object(s)");

    await app.locator("#remove").click();
    await expect.poll(() => body().getAttribute("data-objects")).toBe("1");
    expect(calls.at(-1)).toMatchObject({ name: "remove_object", arguments: { session_id: session, obj_id: 2 } });

    // the model's own prompt on another frame: the viewer follows it there
    await modelCalls("add_prompt", { session_id: session, frame_index: 1, points: [{ x: 60, y: 90 }], obj_id: 1 });
    await expect.poll(() => body().getAttribute("data-frame")).toBe("1");
    expect(calls.at(-1)).toMatchObject({ name: "viewer_frame", arguments: { session_id: session, frame_index: 1 } });

    await app.locator("#play").click();
    await expect.poll(() => body().getAttribute("data-frame"), { timeout: 30_000 }).toBe("5");
    await app.locator("#play").click();
  });

  it("fetched nothing from the network: everything came through the bridge", () => {
    expect(requests.filter((url) => /^https?:/.test(url))).toEqual([]);
  });
});
