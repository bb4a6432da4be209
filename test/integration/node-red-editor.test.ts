import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeInBrowser, launchChromium } from "../support/browser";
import { exampleFlow, exampleNames, openEditor, startNodeRed, type FlowNode, type NodeRedRuntime } from "../support/node-red";

let runtime: NodeRedRuntime;
let browser: Browser;
let page: Page;
let requests: string[];

beforeAll(async () => {
  runtime = await startNodeRed();
  browser = await launchChromium();
  ({ page, requests } = await openEditor(browser, runtime));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
});

/** The editor's global, as these tests reach into it. */
type EditorWindow = {
  RED: {
    nodes: { getType(t: string): { defaults: Record<string, { validate(v: string, opt: object): unknown }> }; node(id: string): unknown; eachConfig(cb: (n: { type: string }) => void): void };
    view: { importNodes(nodes: FlowNode[], options: object): void };
    editor: { edit(node: unknown): void };
    sidebar: { help: { show(type: string): void } };
  };
};

/** A field's validator of a node type, as the editor calls it (Node-RED 3.1+ passes the field's label). */
const validate = (type: string, field: string, value: string) =>
  page.evaluate(([t, f, v]) => (window as unknown as EditorWindow).RED.nodes.getType(t).defaults[f].validate(v, { label: f }), [type, field, value] as const);

/** Imports `nodes` as the import dialog does; "copy" retries a conflicting import as its Import copy button does. */
const importNodes = (nodes: FlowNode[], copy = false) =>
  page.evaluate(
    ([n, c]) => {
      try {
        (window as unknown as EditorWindow).RED.view.importNodes(n, { generateIds: c, addFlow: true });
        return "imported";
      } catch (e) {
        return (e as { code?: string }).code ?? String(e);
      }
    },
    [nodes, copy] as const,
  );

const sam3ModelNodes = () =>
  page.evaluate(() => {
    let count = 0;
    (window as unknown as EditorWindow).RED.nodes.eachConfig((n) => void (n.type === "sam3-model" && count++));
    return count;
  });

/** Opens a node's edit dialog, types `value` into one of its fields, and returns its error state and tooltip. */
async function typeInto(nodeId: string, field: string, value: string): Promise<{ flagged: boolean; tooltip: string }> {
  await page.evaluate((id) => {
    const RED = (window as unknown as EditorWindow).RED;
    RED.editor.edit(RED.nodes.node(id));
  }, nodeId);
  const input = page.locator(`#node-input-${field}`);
  await page.locator(".red-ui-tray").last().waitFor();
  await page.waitForTimeout(400);
  await input.fill(value);
  await input.dispatchEvent("change");
  const flagged = await input.evaluate((el) => el.classList.contains("input-error"));
  let tooltip = "";
  if (flagged) {
    // Node-RED shows the validator's message when the pointer rests on the field
    await input.hover();
    tooltip = (await page.locator(".red-ui-popover-content").last().textContent({ timeout: 5_000 })) ?? "";
  }
  const result = { flagged, tooltip };
  await page.locator("#node-dialog-cancel").click();
  await page.mouse.move(0, 0);
  // the tray slides out before the next dialog may open
  await input.waitFor({ state: "detached" });
  return result;
}

describeInBrowser("the Node-RED editor in a browser", () => {
  it("loads the shared editor script and core's prompt grammar once for all eight node types", async () => {
    expect(requests.filter((u) => u.endsWith("/sam3-editor.js"))).toHaveLength(1);
    expect(requests.filter((u) => u.endsWith("/sam3/prompts.js"))).toHaveLength(1);
    expect(await page.evaluate(() => typeof (window as unknown as { SAM3_PROMPTS?: { parseBoxList?: unknown } }).SAM3_PROMPTS?.parseBoxList)).toBe("function");
  });

  it("checks prompt fields with core's grammar and messages, and says why other fields are invalid", async () => {
    expect(await validate("sam3-segment-image", "boxes", "10,10,5,5")).toBe("box [10,10,5,5] is empty or inverted: need x1 < x2 and y1 < y2");
    expect(await validate("sam3-segment-image", "points", "1,2:foo")).toBe('point "1,2:foo": the only suffixes are :neg (exclude) and :pos (include)');
    expect(await validate("sam3-point-prompt", "box", "1,2,3")).toMatch(/^box "1,2,3" must be 4 comma-separated numbers/);
    expect(await validate("sam3-point-prompt", "points", "420,300; 80,90:neg")).toBe(true);
    expect(await validate("sam3-segment-image", "threshold", "2")).toBe("must be a number from 0 to 1");
    expect(await validate("sam3-load-video", "stride", "0.5")).toBe("must be a whole number of at least 1");
    expect(await validate("sam3-remove-object", "objIds", "1,x")).toBe("object ids are whole numbers of at least 0, separated by commas");
    expect(await validate("sam3-export-masks", "tolerance", "-1")).toBe("must be a number of at least 0");
    expect(await validate("sam3-model", "engine", "ftp://x")).toMatch(/^engine scheme ftp: is not supported: give local, or a Triton server's URL/);
    expect(await validate("sam3-model", "engine", "triton://h:8000")).toBe(true);
    expect(await validate("sam3-model", "engine", "")).toBe(true);
    // a node with no format ticked, checked as the editor checks a node on the canvas
    const formats = await page.evaluate(() => {
      const def = (window as unknown as EditorWindow).RED.nodes.getType("sam3-export-masks").defaults.json;
      return def.validate.call({ json: false, png: false, polygons: false, overlay: false }, "false", { label: "json" });
    });
    expect(formats).toBe("choose at least one format to export");
  });

  it("flags an inverted box in the edit dialog, with core's reason as the field's tooltip", async () => {
    const model = { id: "ed-model", type: "sam3-model", name: "", model: "sam3-tiny-336", device: "cpu", threads: "0", threshold: "0.5", fineness: "0" };
    const nodes: FlowNode[] = [
      model,
      { id: "ed-segment", type: "sam3-segment-image", x: 200, y: 100, z: "", model: "ed-model", property: "payload", propertyType: "msg", text: "", points: "", boxes: "", threshold: "", fineness: "", overlay: true, masks: false, paths: "off", pathFolder: "", wires: [[]] },
      { id: "ed-point", type: "sam3-point-prompt", x: 200, y: 200, z: "", model: "ed-model", points: "10,10", box: "", objId: "1", frame: "0", coordinates: "pixels", wires: [[]] },
    ];
    expect(await importNodes(nodes)).toBe("imported");
    for (const [id, field] of [["ed-segment", "boxes"], ["ed-point", "box"]]) {
      const inverted = await typeInto(id, field, "10,10,5,5");
      expect(inverted, `${id} ${field}`).toEqual({ flagged: true, tooltip: "box [10,10,5,5] is empty or inverted: need x1 < x2 and y1 < y2" });
      expect((await typeInto(id, field, "5,5,10,10")).flagged).toBe(false);
    }
    const threshold = await typeInto("ed-segment", "threshold", "1.5");
    expect(threshold).toEqual({ flagged: true, tooltip: "must be a number from 0 to 1" });
  });

  it("wraps the help's JSON examples inside the help panel", async () => {
    await page.evaluate(() => (window as unknown as EditorWindow).RED.sidebar.help.show("sam3-segment-image"));
    const overflow = (unwrapped: boolean) =>
      page.evaluate((nowrap) => {
        const help = document.querySelector(".sam3-help") as HTMLElement;
        if (nowrap) help.querySelectorAll("code").forEach((c) => (c.style.whiteSpace = "nowrap"));
        const right = help.getBoundingClientRect().right;
        const widest = Math.max(...Array.from(help.querySelectorAll("code")).map((c) => c.getBoundingClientRect().right));
        help.querySelectorAll("code").forEach((c) => (c.style.whiteSpace = ""));
        return widest - right;
      }, unwrapped);
    // the examples would overflow without the wrapping, so the check below can fail
    expect(await overflow(true)).toBeGreaterThan(0);
    expect(await overflow(false)).toBeLessThanOrEqual(0.5);
  });

  it("importing every example keeps one shared SAM 3 model node", async () => {
    const before = await sam3ModelNodes();
    const [first, ...others] = exampleNames();
    expect(await importNodes(exampleFlow(first))).toBe("imported");
    expect(await sam3ModelNodes()).toBe(before + 1);
    for (const name of others) {
      // the model node is already there: Node-RED 4 asks, and its "Import copy" reuses the config node of the same id
      expect(await importNodes(exampleFlow(name))).toBe("import_conflict");
      expect(await importNodes(exampleFlow(name), true)).toBe("imported");
    }
    expect(await sam3ModelNodes()).toBe(before + 1);
    // the flow info as the editor renders it: the address is text, not swallowed as an HTML tag
    const tab = exampleFlow("segment-image-by-text").find((n) => n.type === "tab")!;
    const info = await page.evaluate((markdown) => {
      const div = document.createElement("div");
      div.innerHTML = (window as unknown as { RED: { utils: { renderMarkdown(s: string): string } } }).RED.utils.renderMarkdown(markdown);
      return div.textContent;
    }, tab.info as string);
    expect(info).toContain("Open /sam3 on this Node-RED (for example http://localhost:1880/sam3)");
  });
});
