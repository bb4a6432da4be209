import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startUi } from "../../web/server";
import { describeInBrowser, launchChromium } from "../support/browser";
import { SCENE } from "../support/reference";
import { NO_TEXT, TRACKER_ONLY_CAN, TRACKER_ONLY_NAME, trackerOnlyPack } from "../support/tracker-pack";

/** Set SAM3_UI_SHOTS=<folder> to keep a screenshot of the page on this pack there. */
const SHOTS = process.env.SAM3_UI_SHOTS;

const pack = trackerOnlyPack();
let ui: Awaited<ReturnType<typeof startUi>>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ui = await startUi({ port: 0, model: pack });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await page.goto(ui.url);
  await page.locator("#status", { hasText: "Model ready" }).waitFor({ timeout: 60_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
  rmSync(pack, { recursive: true, force: true });
});

/** Sends a prompt from the page with its own cookie, as its script does: status and JSON body. */
const segmentFromPage = (mediaId: string, body: unknown) =>
  page.evaluate(async ([id, b]) => {
    const res = await fetch(`/api/media/${id}/segment`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(b) });
    return { status: res.status, body: await res.json() };
  }, [mediaId, body] as const);

describeInBrowser("web UI on a pack that can only track (headless Chromium)", () => {
  it("shows the model and what it can do in the header, and disables text prompts with the reason as tooltip", async () => {
    expect(await page.locator("#model").textContent()).toContain(`Model: ${TRACKER_ONLY_NAME} on cpu — ready`);
    expect(await page.locator("#capabilities").textContent()).toBe(`Can do: ${TRACKER_ONLY_CAN}`);
    expect(await page.locator("#capabilities").isVisible()).toBe(true);
    for (const control of ["#prompts", "#find", "#threshold"]) {
      expect(await page.locator(control).isDisabled()).toBe(true);
      expect(await page.locator(control).getAttribute("title")).toMatch(NO_TEXT);
    }
    // what it can do stays usable
    for (const control of ["#clear", "#new-object"]) expect(await page.locator(control).isDisabled()).toBe(false);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, "ui-tracker-only.png") });
  });

  it("answers a text prompt with 422 MISSING_CAPABILITY, which the page shows; a click still segments", async () => {
    await page.setInputFiles("#file", SCENE);
    await expect.poll(() => page.locator("#status").textContent()).toBe("Loaded scene.png. Click on the image.");
    const mediaId = await page.evaluate(() => document.querySelector<HTMLAnchorElement>("#export-jsonl")!.href.split("/")[5]);
    const refused = await segmentFromPage(mediaId, { text: "dog" });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe("MISSING_CAPABILITY");
    expect(refused.body.error).toMatch(NO_TEXT);
    expect(refused.body.error).not.toContain(pack);

    // a page whose controls were re-enabled (an old tab, DevTools) shows the server's answer
    for (const control of ["#prompts", "#find"]) await page.locator(control).evaluate((e: HTMLInputElement) => (e.disabled = false));
    await page.fill("#prompts", "dog");
    await page.click("#find");
    await expect.poll(() => page.locator("#status").textContent()).toBe(`Segmentation failed: ${refused.body.error}`);
    expect(await page.locator("#status").getAttribute("class")).toContain("error");
    if (SHOTS) await page.screenshot({ path: join(SHOTS, "ui-tracker-only-refused.png") });

    const box = (await page.locator("#canvas").boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await expect.poll(() => page.locator("#objects li[data-id]").count()).toBe(1);
  });
});
