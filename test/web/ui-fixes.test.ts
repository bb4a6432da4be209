/**
 * Web UI bugs that came from the page and the server both keeping prompts, each seen in headless Chromium: the server's session owns the click list, video
 * sliders never re-send a prompt, and image mode keeps every object (text results, clicks, boxes) together.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, expect, it } from "vitest";
import { describeInBrowser, setSlider as moveSlider, webUiUnderTest } from "../support/browser";
import { SCENE } from "../support/reference";
import { makeVideo } from "../support/synthetic-video";

const scratch = mkdtempSync(join(tmpdir(), "sam3-ui-fixes-"));
let page: Page;
let clip: string;

beforeAll(async () => {
  clip = await makeVideo(join(scratch, "clip.mp4"), { width: 160, height: 120, frames: 8, fps: 8 });
}, 120_000);
// random weights score about 0.25: with these rules text prompts find objects on a video too
const ui = webUiUnderTest({ rules: { presenceThreshold: 0, scoreThresholdDetection: 0, newDetThresh: 0 } }, scratch);

async function open(file: string, loaded: RegExp) {
  page = await ui.openPage();
  await page.setInputFiles("#file", file);
  await expect.poll(() => page.locator("#status").textContent(), { timeout: 30_000 }).toMatch(loaded);
}

/** The JSON bodies the page sends to /segment, in order, and how many have been answered. */
function prompts() {
  const log = { bodies: [] as Record<string, unknown>[], answered: 0 };
  page.on("request", (r) => void (r.url().endsWith("/segment") && log.bodies.push(r.postDataJSON())));
  page.on("requestfinished", (r) => void (r.url().endsWith("/segment") && log.answered++));
  return log;
}

const ids = () => page.locator("#objects li[data-id]").evaluateAll((items) => items.map((li) => Number((li as HTMLElement).dataset.id)));
/** Every prompt sent so far has its answer. */
const answered = (log: ReturnType<typeof prompts>, n: number) => expect.poll(() => [log.bodies.length, log.answered], { timeout: 30_000 }).toEqual([n, n]);

async function at(fx: number, fy: number) {
  const box = (await page.locator("#canvas").boundingBox())!;
  return { x: box.x + box.width * fx, y: box.y + box.height * fy };
}

async function clickAt(fx: number, fy: number) {
  const p = await at(fx, fy);
  await page.mouse.click(p.x, p.y);
}

async function toFrame(n: number) {
  await setSlider("frame", n);
  await expect.poll(() => page.locator("#frame-value").textContent()).toBe(`${n} / 7`);
}

const setSlider = (id: string, value: number) => moveSlider(page, id, value);

describeInBrowser("web UI fixes (headless Chromium)", () => {
  it("video: a second click sends only the new click, and the sliders are disabled and send nothing", async () => {
    await open(clip, /Loaded clip\.mp4/);
    const log = prompts();
    await clickAt(0.2, 0.35);
    await answered(log, 1);
    await expect.poll(ids).toEqual([1]);
    await clickAt(0.3, 0.4);
    await answered(log, 2);
    // the server's session holds the clicks: the page never sends p1 again
    expect((log.bodies[1].points as unknown[]).length).toBe(1);
    expect(log.bodies[1].obj_id).toBe(1);
    expect(await ids()).toEqual([1]);
    for (const slider of ["threshold", "fineness"]) {
      expect(await page.locator(`#${slider}`).isDisabled()).toBe(true);
      // moved anyway (an old tab, DevTools): nothing is re-sent, the session keeps its prompts
      await page.locator(`#${slider}`).evaluate((e: HTMLInputElement) => (e.disabled = false));
      await setSlider(slider, 0.9);
    }
    await page.waitForTimeout(500);
    expect(log.bodies.length).toBe(2);
    expect(await ids()).toEqual([1]);
    await page.close();
  });

  it("video: after a text prompt and a propagation, moving a slider keeps the propagated results", async () => {
    await open(clip, /Loaded clip\.mp4/);
    const log = prompts();
    await page.fill("#prompts", "red circle");
    await page.click("#find");
    await answered(log, 1);
    expect(await ids()).not.toEqual([]);
    await page.click("#propagate");
    await expect.poll(() => page.locator("#status").textContent(), { timeout: 30_000 }).toMatch(/Propagation finished: 8 frame/);
    await toFrame(5);
    await expect.poll(ids).not.toEqual([]);
    const propagated = await ids();
    // back on the prompt's frame, a slider used to re-send the text prompt, which started the session over
    await toFrame(0);
    await page.locator("#threshold").evaluate((e: HTMLInputElement) => (e.disabled = false));
    await setSlider("threshold", 0.6);
    await page.waitForTimeout(500);
    expect(log.bodies.length).toBe(1);
    await toFrame(5);
    await page.waitForTimeout(300);
    expect(await ids()).toEqual(propagated);
    await page.close();
  });

  it("image: New object and a box add object 2 beside object 1", async () => {
    await open(SCENE, /Loaded scene\.png/);
    const log = prompts();
    await clickAt(0.25, 0.35);
    await answered(log, 1);
    await expect.poll(ids).toEqual([1]);
    await page.click("#new-object");
    const [from, to] = [await at(0.55, 0.55), await at(0.8, 0.85)];
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2);
    await page.mouse.move(to.x, to.y);
    await page.mouse.up();
    await expect.poll(ids).toEqual([1, 2]);
    await page.close();
  });

  it("image: a click keeps the text results and adds its object to them", async () => {
    await open(SCENE, /Loaded scene\.png/);
    const log = prompts();
    await setSlider("threshold", 0);
    await page.fill("#prompts", "red circle");
    await page.click("#find");
    await answered(log, 1);
    await expect.poll(() => page.locator("#objects li[data-id]").count()).toBe(16);
    await clickAt(0.25, 0.35);
    await expect.poll(ids).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
    await page.close();
  });
});
