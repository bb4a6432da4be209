import { existsSync, rmSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { startUi, type UiOptions } from "../../web/server";

/** The Chromium the browser tests drive: Debian's, or the one SAM3_CHROMIUM names. */
export const CHROMIUM = process.env.SAM3_CHROMIUM || "/usr/bin/chromium";

/**
 * `describe` for the tests that need Chromium: SAM3_SKIP_BROWSER_TESTS=1 skips them (counted as skipped), for a
 * machine without a browser. Otherwise a missing Chromium fails them, saying how to get one.
 */
export function describeInBrowser(name: string, tests: () => void): void {
  describe.skipIf(process.env.SAM3_SKIP_BROWSER_TESTS === "1")(name, tests);
}

/** The system's Chromium, headless, quiet (no updates, no first-run screens): what the browser tests drive. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    const fix = `install Debian's (apt-get install chromium), point SAM3_CHROMIUM at another, or run without the browser tests (SAM3_SKIP_BROWSER_TESTS=1)`;
    return Promise.reject(new Error(`the browser tests need Chromium, and there is none at ${CHROMIUM}: ${fix}`));
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}

/**
 * The web UI and Chromium for one test file: started before its tests (after its own earlier hooks), closed after
 * them with `scratch` removed. `openPage()` opens a fresh page on the UI once the model has loaded.
 */
export function webUiUnderTest(options: UiOptions, scratch: string) {
  let ui: Awaited<ReturnType<typeof startUi>>;
  let browser: Browser;
  beforeAll(async () => {
    ui = await startUi({ port: 0, ...options });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await ui?.close();
    rmSync(scratch, { recursive: true, force: true });
  });
  return {
    get url() {
      return ui.url;
    },
    get browser() {
      return browser;
    },
    async openPage(): Promise<Page> {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(ui.url);
      await expect.poll(() => page.locator("#status").textContent()).not.toMatch(/loading/i);
      return page;
    },
  };
}

/** Moves a range input as a user's drag does: the value, then its input and change events. */
export async function setSlider(page: Page, id: string, value: number): Promise<void> {
  await page.locator(`#${id}`).evaluate((el: HTMLInputElement, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }, value);
}
