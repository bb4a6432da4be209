import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeInBrowser, launchChromium } from "../support/browser";
import { startNodeRed, type NodeRedRuntime } from "../support/node-red";

let runtime: NodeRedRuntime;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  runtime = await startNodeRed();
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(runtime.base);
  await page.waitForFunction(() => (window as unknown as { RED?: { nodes?: { getType(t: string): unknown } } }).RED?.nodes?.getType("sam3-point-prompt"), undefined, { timeout: 60_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
});

/** A field's validator of a node type, as the editor calls it (Node-RED 3.1+ passes the field's label). */
const validate = (type: string, field: string, value: string) =>
  page.evaluate(
    ([t, f, v]) => {
      const RED = (window as unknown as { RED: { nodes: { getType(t: string): { defaults: Record<string, { validate(v: string, opt: object): unknown }> } } } }).RED;
      return RED.nodes.getType(t).defaults[f].validate(v, { label: f });
    },
    [type, field, value] as const,
  );

describeInBrowser("the Node-RED editor in a browser", () => {
  it("loads core's prompt grammar with the nodes and shows its messages on prompt fields", async () => {
    expect(await page.evaluate(() => typeof (window as unknown as { SAM3_PROMPTS?: { parseBoxList?: unknown } }).SAM3_PROMPTS?.parseBoxList)).toBe("function");
    expect(await validate("sam3-segment-image", "boxes", "10,10,5,5")).toBe("box [10,10,5,5] is empty or inverted: need x1 < x2 and y1 < y2");
    expect(await validate("sam3-segment-image", "points", "1,2:foo")).toBe('point "1,2:foo": the only suffixes are :neg (exclude) and :pos (include)');
    expect(await validate("sam3-point-prompt", "box", "1,2,3")).toMatch(/^box "1,2,3" must be 4 comma-separated numbers/);
    expect(await validate("sam3-point-prompt", "points", "420,300; 80,90:neg")).toBe(true);
  });
});
