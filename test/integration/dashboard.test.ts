import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeInBrowser, launchChromium } from "../support/browser";
import { exampleFlow, startNodeRed, type NodeRedRuntime } from "../support/node-red";
import { REPO } from "../support/reference";

/** Set UPDATE_SCREENSHOTS=1 to refresh the README's screenshot of the dashboard in docs/. */
const SHOT = process.env.UPDATE_SCREENSHOTS ? join(REPO, "docs", "dashboard-click.png") : undefined;
const DASHBOARD = "@flowfuse/node-red-dashboard";
const FLOW = exampleFlow("dashboard-click-to-segment");

let runtime: NodeRedRuntime;
let browser: Browser;
let page: Page;

/** The view's image as the page shows it: its src and the decoded pixels. */
async function shownImage() {
  const src = (await page.locator("#sam3-image").getAttribute("src"))!;
  expect(src).toMatch(/^data:image\/png;base64,/);
  const { data, info } = await sharp(Buffer.from(src.slice(src.indexOf(",") + 1), "base64")).raw().toBuffer({ resolveWithObject: true });
  return { src, data, width: info.width, height: info.height };
}

/** Waits until the view's image is a different data URL from `before`. */
async function imageChangedFrom(before: string) {
  await expect.poll(() => page.locator("#sam3-image").getAttribute("src"), { timeout: 60_000 }).not.toBe(before);
  return shownImage();
}

/** One value of the example tab's flow context, as the admin API shows it. */
async function flowContext(key: string): Promise<string | undefined> {
  const tab = FLOW.find((n) => n.type === "tab")!.id;
  const value = (await fetch(`${runtime.base}/context/flow/${tab}/${key}`, { headers: { accept: "application/json" } }).then((r) => r.json())) as { msg?: string };
  return value.msg;
}

const status = () => page.locator("#sam3-status").textContent();

describeInBrowser("the Dashboard 2.0 click-to-segment example in a real Node-RED", () => {
  beforeAll(async () => {
    runtime = await startNodeRed({}, {}, [DASHBOARD]);
    await runtime.deploy(FLOW, `${runtime.base}/dashboard/sam3`);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
  });

  it("the runtime loads the dashboard's nodes beside the sam3 ones", async () => {
    const sets: { module: string; types: string[]; enabled: boolean; err?: string }[] = await fetch(`${runtime.base}/nodes`, { headers: { accept: "application/json" } }).then((r) => r.json());
    const dashboard = sets.filter((s) => s.module === DASHBOARD);
    expect(dashboard.map((s) => s.err).filter(Boolean), runtime.log()).toEqual([]);
    expect(dashboard.flatMap((s) => s.types)).toEqual(expect.arrayContaining(["ui-base", "ui-page", "ui-group", "ui-theme", "ui-template"]));
    const usedTypes = new Set(FLOW.map((n) => n.type));
    expect([...usedTypes].filter((t) => !sets.some((s) => s.types.includes(t)) && t !== "tab")).toEqual([]);
  });

  it("the page shows the bundled scene, and a click brings the overlay back into it", async () => {
    await page.goto(`${runtime.base}/dashboard/sam3`);
    await expect.poll(() => page.locator("#sam3-image").getAttribute("src").catch(() => null), { timeout: 60_000 }).toMatch(/^data:image\/png/);
    const scene = await shownImage();
    const { data: original } = await sharp(join(REPO, "examples", "scene.png")).raw().toBuffer({ resolveWithObject: true });
    expect([scene.width, scene.height]).toEqual([640, 480]);
    expect(scene.data.equals(original), "the plain scene, no masks").toBe(true);

    // a click at pixel (320, 240) of the scene, shown at whatever size the page gives it
    const box = (await page.locator("#sam3-image").boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const overlay = await imageChangedFrom(scene.src);
    expect([overlay.width, overlay.height]).toEqual([640, 480]);
    expect(overlay.data.equals(original), "a mask drawn over the scene").toBe(false);
    await expect.poll(status).toMatch(/^1 object$/);
    await expect.poll(() => page.locator(".sam3-mark.pos").count()).toBe(1);
    if (SHOT) await page.screenshot({ path: SHOT, fullPage: true });

    // negative mode: a second click adds a negative point, and the whole list goes to segment-image again
    await page.locator("#sam3-negative").click();
    await page.mouse.click(box.x + 10, box.y + 10);
    await expect.poll(() => page.locator(".sam3-mark.neg").count()).toBe(1);
    await imageChangedFrom(overlay.src);
    await expect.poll(status).toMatch(/^1 object$/);
  }, 120_000);

  it("a concept typed in the text box is segmented, and clear shows the scene again", async () => {
    const before = await shownImage();
    await page.locator("#sam3-text").fill("red circle");
    await page.locator("#sam3-find").click();
    const found = await imageChangedFrom(before.src);
    expect([found.width, found.height]).toEqual([640, 480]);
    await expect.poll(status).toMatch(/^\d+ objects?$/);
    await expect.poll(() => page.locator(".sam3-mark").count()).toBe(0);
    await page.locator("#sam3-clear").click();
    await expect.poll(status).toMatch(/cleared/);
  }, 120_000);

  it("track in the last clip follows the clicked object through the demo clip and plays the overlay MP4", async () => {
    const box = (await page.locator("#sam3-image").boundingBox())!;
    await page.locator("#sam3-positive").click();
    await page.mouse.click(box.x + box.width / 4, box.y + box.height / 3);
    await expect.poll(status, { timeout: 60_000 }).toMatch(/^1 object$/);
    await page.locator("#sam3-track").click();
    await expect.poll(() => page.locator("#sam3-clip").getAttribute("src").catch(() => null), { timeout: 120_000 }).toMatch(/^data:video\/mp4;base64,/);
    await expect.poll(status).toMatch(/^tracked through \d+ frames/);
    const mp4 = Buffer.from((await page.locator("#sam3-clip").getAttribute("src"))!.split(",")[1], "base64");
    expect(mp4.subarray(4, 8).toString("latin1")).toBe("ftyp");
    // a second track reuses the clip's session (kept in the flow's context) instead of opening another
    const session = await flowContext("session");
    expect(session).toMatch(/"id"/);
    await page.locator("#sam3-track").click();
    await expect.poll(() => page.locator("#sam3-clip").count()).toBe(0);
    await expect.poll(() => page.locator("#sam3-clip").count(), { timeout: 120_000 }).toBe(1);
    await expect.poll(status).toMatch(/^tracked through/);
    expect(await flowContext("session")).toBe(session);
  }, 300_000);

  it("upload image sends the chosen file, at most 1280 pixels a side, and clicks then segment it", async () => {
    const before = await shownImage();
    const large = await sharp(join(REPO, "examples", "scene.png")).resize(1600, 1200).png().toBuffer();
    await page.locator("input[type=file]").setInputFiles({ name: "large.png", mimeType: "image/png", buffer: large });
    const uploaded = await imageChangedFrom(before.src);
    expect([uploaded.width, uploaded.height]).toEqual([1280, 960]);
    await expect.poll(status).toMatch(/^1280x960: click an object/);
    const box = (await page.locator("#sam3-image").boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const overlay = await imageChangedFrom(uploaded.src);
    expect([overlay.width, overlay.height]).toEqual([1280, 960]);
    await expect.poll(status).toMatch(/^1 object$/);
  }, 120_000);

  it("an image POSTed to /sam3/dashboard/image (a camera snapshot) replaces the scene in the view; other bytes do not", async () => {
    const before = await shownImage();
    const snapshot = await sharp(readFileSync(join(REPO, "examples", "scene.png"))).resize(320, 240).jpeg().toBuffer();
    const response = await fetch(`${runtime.base}/sam3/dashboard/image`, { method: "POST", headers: { "content-type": "image/jpeg" }, body: snapshot });
    expect(response.status).toBe(202);
    const shown = await imageChangedFrom(before.src);
    expect([shown.width, shown.height]).toEqual([320, 240]);
    const refused = await fetch(`${runtime.base}/sam3/dashboard/image`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(refused.status).toBe(400);

    // bytes that are no image: the view says why, and keeps the last good image for the next click
    const junk = await fetch(`${runtime.base}/sam3/dashboard/image`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: "/etc/passwd" });
    expect(junk.status).toBe(202);
    await expect.poll(status).toMatch(/^that image cannot be decoded \(BAD_IMAGE\)$/);
    const box = (await page.locator("#sam3-image").boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const clicked = await imageChangedFrom(shown.src);
    expect([clicked.width, clicked.height]).toEqual([320, 240]);
  }, 120_000);
});
