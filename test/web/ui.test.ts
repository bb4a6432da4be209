import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, expect, it } from "vitest";
import { startUi } from "../../web/server";
import { describeInBrowser, setSlider as moveSlider, webUiUnderTest } from "../support/browser";
import { REPO, SCENE } from "../support/reference";
import { makeVideo } from "../support/synthetic-video";

/** Set UPDATE_SCREENSHOTS=1 to refresh the README's screenshots in docs/. */
const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(REPO, "docs") : undefined;

const scratch = mkdtempSync(join(tmpdir(), "sam3-ui-test-"));
let page: Page;
let clip: string;
let longClip: string;

beforeAll(async () => {
  [clip, longClip] = await Promise.all([
    makeVideo(join(scratch, "clip.mp4"), { width: 160, height: 120, frames: 8, fps: 8 }),
    makeVideo(join(scratch, "long.mp4"), { width: 160, height: 120, frames: 120, fps: 24 }),
  ]);
}, 120_000);
// random weights put the tracker's object score near 0.5: count every mask as visible
const ui = webUiUnderTest({ rules: { presenceThreshold: 0 } }, scratch);

async function openPage() {
  page = await ui.openPage();
}

async function upload(file: string) {
  await page.setInputFiles("#file", file);
}

const setSlider = (id: string, value: number) => moveSlider(page, id, value);

/** Answers that wait on the model (uploads, prompts) get this long on a busy machine. */
const slow = { timeout: 30_000 };
const objectCount = () => page.locator("#objects li[data-id]").count();
const canvasShot = () => page.locator("#canvas").screenshot();

describeInBrowser("web UI in headless Chromium", () => {
  it("segments an uploaded image by text, by a click, and redraws when the sliders move", async () => {
    await openPage();
    await upload(SCENE);
    await expect.poll(() => page.locator("#status").textContent(), slow).toMatch(/Loaded scene\.png/);
    const plain = await canvasShot();
    await setSlider("threshold", 0);
    await page.fill("#prompts", "red circle");
    await page.click("#find");
    await expect.poll(objectCount).toBe(16);
    const found = await canvasShot();
    expect(found.equals(plain)).toBe(false);
        // random weights score every query ~0.25: at 0.3 the threshold slider leaves none, and the overlay goes
    await setSlider("threshold", 0.3);
    await expect.poll(objectCount).toBe(0);
    expect((await canvasShot()).equals(found)).toBe(false);

    // a click (no text) selects one object with the tracker
    await page.fill("#prompts", "");
    await page.click("#clear");
    const box = (await page.locator("#canvas").boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.25, box.y + box.height * 0.35);
    await expect.poll(objectCount).toBe(1);
    const clicked = await canvasShot();
    await setSlider("fineness", 1);
    await expect.poll(async () => (await canvasShot()).equals(clicked)).toBe(false);

    // hovering the object shows its id and score (the random-weight mask is patchy: look for a pixel of it)
    let shown = false;
    for (let i = 1; i < 10 && !shown; i++) {
      for (let j = 1; j < 10 && !shown; j++) {
        await page.mouse.move(box.x + (box.width * i) / 10, box.y + (box.height * j) / 10);
        shown = await page.locator("#hover-info").isVisible();
      }
    }
    expect(shown).toBe(true);
    expect(await page.locator("#hover-info").textContent()).toMatch(/#1 .*0\.\d+/);

    // toggling the object off removes its tint; removing it empties the list
    const smooth = await canvasShot();
    await page.locator("#objects li[data-id='1'] input[type=checkbox]").uncheck();
    await expect.poll(async () => (await canvasShot()).equals(smooth)).toBe(false);
    await page.getByRole("button", { name: "Remove object #1" }).click();
    await expect.poll(objectCount).toBe(0);
    await page.close();
  });

  it("keeps text results and clicked objects together: picks a candidate, undoes a click, sets the opacity, exports cut-outs", async () => {
    await openPage();
    await upload(SCENE);
    await expect.poll(() => page.locator("#status").textContent(), slow).toMatch(/Loaded scene\.png/);
    await setSlider("threshold", 0);
    await page.fill("#prompts", "red circle");
    await page.click("#find");
    await expect.poll(objectCount, slow).toBe(16);
    const box = (await page.locator("#canvas").boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.25, box.y + box.height * 0.35);
    await expect.poll(objectCount, slow).toBe(17);

    // one click alone is ambiguous: SAM's 3 candidates, the best one shown, another one picked
    const picker = page.getByRole("group", { name: "Candidates of object #17" });
    await expect.poll(() => picker.getByRole("button").count(), slow).toBe(3);
    const pressed = () => picker.locator("button[aria-pressed=true]").textContent();
    const other = (await pressed()) === "1" ? "2" : "1";
    const candidate = page.getByRole("button", { name: `Candidate ${other} of object #17` });
    const score = /score (\d\.\d\d)/.exec((await candidate.getAttribute("title"))!)![1];
    await candidate.click();
    await expect.poll(pressed, slow).toBe(other);
    expect(await page.locator("#objects li[data-id='17'] label").textContent()).toBe(`#17 score ${score}`);

    // a second click refines object 17 (two clicks are not ambiguous: no candidates); undo takes it back
    await page.evaluate(() => window.scrollTo(0, 0));
    const scrolled = (await page.locator("#canvas").boundingBox())!;
    await page.mouse.click(scrolled.x + scrolled.width * 0.3, scrolled.y + scrolled.height * 0.4);
    await expect.poll(() => picker.count(), slow).toBe(0);
    await page.click("#undo");
    await expect.poll(() => picker.getByRole("button").count(), slow).toBe(3);
    expect(await objectCount()).toBe(17);

    // opacity 0 leaves only the outlines
    const tinted = await canvasShot();
    await setSlider("opacity", 0);
    await expect.poll(async () => (await canvasShot()).equals(tinted)).toBe(false);
    await setSlider("opacity", 0.45);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, "ui-image.jpg"), quality: 78 });

    // cut-outs: one transparent PNG per object with a mask
    const href = (name: string) => page.locator(`#export a[href$='${name}']`).getAttribute("href").then((h) => new URL(h!, ui.url).href);
    const objects = (await (await page.request.get((await href("cutouts.zip")).replace(/export\/cutouts\.zip$/, "frames/0/objects"))).json()).objects as { id: number; area: number }[];
    const zip = await (await page.request.get(await href("cutouts.zip"))).body();
    const names = [...new Set([...zip.toString("latin1").matchAll(/cutout-\d+\.png/g)].map((m) => m[0]))];
    expect(names).toEqual(objects.filter((o) => o.area > 0).map((o) => `cutout-${o.id}.png`));
    expect(objects.map((o) => o.id)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
    await page.close();
  });

  it("tracks a clicked object through a video, scrubs, removes it and exports", async () => {
    await openPage();
    await upload(clip);
    await expect.poll(() => page.locator("#frame").getAttribute("max"), slow).toBe("7");
    await expect.poll(() => page.locator("#status").textContent(), slow).toMatch(/Loaded clip\.mp4/);
    // the bundled pack has the memory graphs: the web UI tracks with SAM 3's memory tracker
    expect(await page.locator("#capabilities").textContent()).toContain("video tracking (memory)");
    const box = (await page.locator("#canvas").boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.2, box.y + box.height * 0.35);
    await expect.poll(objectCount).toBe(1);
    await page.click("#propagate");
    await expect.poll(() => page.locator("#progress").evaluate((p: HTMLProgressElement) => p.value / p.max)).toBe(1);
    await setSlider("frame", 5);
    await expect.poll(() => page.locator("#frame-value").textContent()).toMatch(/5/);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, "ui-video.jpg"), quality: 78 });
    const exported = await page.request.get(await page.locator("#export a[href$='masks.jsonl']").getAttribute("href").then((h) => new URL(h!, ui.url).href));
    expect(exported.status()).toBe(200);
    // the clicked object is on each of the 8 frames (random weights score it present), one line per frame
    expect((await exported.text()).trim().split("\n").map((l) => JSON.parse(l).objects.length)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    const zip = await page.request.get(new URL(await page.locator("#export a[href$='masks.zip']").getAttribute("href") ?? "", ui.url).href);
    expect((await zip.body()).subarray(0, 2).toString()).toBe("PK");
    await page.getByRole("button", { name: "Remove object #1" }).click();
    await expect.poll(objectCount).toBe(0);
    await page.close();
  });

  it("cancels a propagation, and explains a file it cannot read", async () => {
    await openPage();
    await upload(longClip);
    await expect.poll(() => page.locator("#frame").getAttribute("max"), slow).toBe("119");
    await expect.poll(() => page.locator("#status").textContent(), slow).toMatch(/Loaded long\.mp4/);
    const box = (await page.locator("#canvas").boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.2, box.y + box.height * 0.35);
    await expect.poll(objectCount).toBe(1);
    await page.click("#propagate");
    await expect.poll(() => page.locator("#cancel").isEnabled()).toBe(true);
    await page.click("#cancel");
    await expect.poll(() => page.locator("#status").textContent(), { timeout: 30_000 }).toMatch(/cancel/i);
    expect(await page.locator("#progress").evaluate((p: HTMLProgressElement) => p.value / p.max)).toBeLessThan(1);

    const junk = join(scratch, "notes.txt");
    writeFileSync(junk, "not media");
    await upload(junk);
    await expect.poll(() => page.locator("#status").textContent()).toMatch(/neither an image nor a video/);
    await page.close();
  });

  it("closes its upload when another replaces it, so the per-client quota never fills", async () => {
    await openPage();
    const closed: string[] = [];
    page.on("request", (r) => void (r.method() === "DELETE" && closed.push(new URL(r.url()).pathname)));
    // three videos in a row: the quota is two per client, so each must close the one before
    for (let i = 0; i < 3; i++) {
      await upload(clip);
      await expect.poll(() => page.locator("#status").textContent(), slow).toMatch(/Loaded clip\.mp4/);
      await page.evaluate(() => document.getElementById("status")!.textContent = "");
    }
    expect(closed).toHaveLength(2);
    expect(closed.every((p) => /^\/api\/media\/[0-9a-f-]{36}$/.test(p))).toBe(true);
    await page.close();
  });

  it("keeps the current video when a new upload fails, and closes nothing", async () => {
    await openPage();
    const closed: string[] = [];
    page.on("request", (r) => void (r.method() === "DELETE" && closed.push(r.url())));
    await upload(clip);
    await expect.poll(() => page.locator("#status").textContent(), slow).toMatch(/Loaded clip\.mp4/);
    const truncated = join(scratch, "truncated.png");
    writeFileSync(truncated, readFileSync(SCENE).subarray(0, 300));
    await upload(truncated);
    await expect.poll(() => page.locator("#status").textContent()).toMatch(/not a readable image/);
    expect(closed).toEqual([]);
    expect(await page.locator("#media-info").textContent()).toMatch(/clip\.mp4: video/);
    // the video is still the server's: a click on it still makes an object
    const box = (await page.locator("#canvas").boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.2, box.y + box.height * 0.35);
    await expect.poll(objectCount).toBe(1);
    await page.close();
  });

  it("closes its upload when the page goes away", async () => {
    // pages of one browser context share the client cookie, so they share its quota of two videos
    const context = await ui.browser.newContext();
    const open = async () => {
      const p = await context.newPage();
      await p.goto(ui.url);
      await expect.poll(() => p.locator("#status").textContent()).not.toMatch(/loading/i);
      await p.setInputFiles("#file", clip);
      await expect.poll(() => p.locator("#status").textContent(), { timeout: 60_000 }).toMatch(/Loaded clip\.mp4/);
      return p;
    };
    try {
      const [first] = [await open(), await open()];
      const third = await context.newPage();
      await third.goto(ui.url);
      await third.setInputFiles("#file", clip);
      await expect.poll(() => third.locator("#status").textContent(), { timeout: 10_000 }).toMatch(/Too many uploads/);
      await first.close({ runBeforeUnload: true });
      // the closing page's DELETE arrives on its own time: retry while the quota still says no
      await expect.poll(async () => {
        const status = (await third.locator("#status").textContent()) ?? "";
        if (/Too many/.test(status)) {
          await third.setInputFiles("#file", []);
          await third.setInputFiles("#file", clip);
        }
        return status;
      }, { timeout: 30_000, interval: 500 }).toMatch(/Loaded clip\.mp4/);
    } finally {
      await context.close();
    }
  });

  it("needs the token: the bare address explains how to get in", async () => {
    const bare = await ui.browser.newPage();
    const answer = await bare.goto(new URL("/", ui.url).href);
    expect(answer?.status()).toBe(401);
    expect(await bare.textContent("body")).toMatch(/token/);
    await bare.close();
  });

  it("refuses a file over the upload limit with a message", async () => {
    const small = await startUi({ port: 0, maxUploadBytes: 1000 });
    const limited = await ui.browser.newPage();
    try {
      await limited.goto(small.url);
      await expect.poll(() => limited.locator("#status").textContent()).not.toMatch(/loading/i);
      await limited.setInputFiles("#file", SCENE);
      await expect.poll(() => limited.locator("#status").textContent()).toMatch(/limit/);
    } finally {
      await limited.close();
      await small.close();
    }
  });
});

if (SHOTS) mkdirSync(SHOTS, { recursive: true });
