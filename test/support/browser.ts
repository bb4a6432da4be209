import { chromium, type Browser } from "playwright-core";

/** The system's Chromium, headless, quiet (no updates, no first-run screens): what the browser tests drive. */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
