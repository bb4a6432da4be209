import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE_HELP } from "../../core";
import { startUi } from "../../web/server";
import { describeInBrowser, launchChromium } from "../support/browser";
import { cli, stderrLines } from "../support/cli";

/**
 * Every face that loads the model takes a Triton URL as its engine, checked by core's rule before anything loads.
 * A server that answers is not needed here: a bad URL must stop the face first, and a good one only names its host.
 */

const SCENE = "examples/scene.png";
/** A model that would fail to open (exit 1): a bad engine must be refused (exit 2) before the model is looked at. */
const MISSING_MODEL = ["--model", "no-such-pack"];
const BAD_ENGINES: [string, RegExp][] = [
  ["ftp://x", /^engine scheme ftp: is not supported: give /],
  ["triton://h:8000?foo=1", /^engine option foo is unknown: give /],
];

describe("sam3 --engine: a bad URL is one usage line, before the model or the input is read", () => {
  const commands: [string, string[]][] = [
    ["segment", ["segment", "examples/missing.png", "--text", "x", ...MISSING_MODEL]],
    ["track", ["track", "examples/missing.mp4", "--text", "x", ...MISSING_MODEL]],
    ["demo", ["demo", "--out", join(tmpdir(), "sam3-engine-demo-never-written"), ...MISSING_MODEL]],
    ["ui", ["ui", "--port", "0", ...MISSING_MODEL]],
    ["models verify", ["models", "verify", "no-such-pack"]],
  ];
  for (const [name, args] of commands) {
    it.each(BAD_ENGINES)(`${name} --engine %s`, async (engine, message) => {
      const run = await cli(...args, "--engine", engine);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe("");
      expect(stderrLines(run)).toHaveLength(1);
      const line = stderrLines(run)[0];
      expect(line.startsWith("sam3: error: ")).toBe(true);
      expect(line.slice("sam3: error: ".length)).toMatch(message);
      expect(line.endsWith(ENGINE_HELP)).toBe(true);
    });
  }

  it("segment --help lists --engine", async () => {
    const run = await cli("segment", "--help");
    expect(run.stdout).toMatch(/--engine URL +where the graphs run: local \(default\), or a Triton server such as triton:\/\/host:8000/);
    for (const command of ["track", "ui", "demo", "models"]) expect((await cli(command, "--help")).stdout, command).toContain("--engine URL");
  });

  it("--engine local runs in this process", async () => {
    const run = await cli("segment", SCENE, "--point", "160,170", "--engine", "local", "--json");
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).objects).toHaveLength(1);
  });
});

describe("sam3 ui --engine", () => {
  it("refuses a bad URL before it listens", async () => {
    await expect(startUi({ port: 0, engine: "triton://h:8000?foo=1" })).rejects.toMatchObject({ code: "BAD_OPTION", message: expect.stringMatching(/^engine option foo is unknown/) });
  });

  describeInBrowser("names the Triton server where the device would be (headless Chromium)", () => {
    let ui: Awaited<ReturnType<typeof startUi>>;
    let browser: Browser;
    beforeAll(async () => {
      // nothing listens on port 9 of loopback: whether the model loads or fails there, the page names the server
      ui = await startUi({ port: 0, engine: "triton://127.0.0.1:9/prefix?timeout=1&retries=0" });
      browser = await launchChromium();
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
      await ui?.close();
    });

    it("in /api/info and the page's model line, without the URL's path or query", async () => {
      const page = await browser.newPage();
      await page.goto(ui.url);
      const info = await page.evaluate(() => fetch("/api/info").then((r) => r.json()));
      expect(info.remote).toBe("127.0.0.1:9");
      const line = page.locator("#model");
      await expect.poll(() => line.textContent(), { timeout: 30_000 }).toMatch(/^Model: sam3-tiny-336 on Triton 127\.0\.0\.1:9 — /);
      expect(await line.textContent()).not.toMatch(/prefix|timeout/);
    });
  });

  it("a local UI reports no remote", async () => {
    const ui = await startUi({ port: 0, token: false });
    try {
      const info = await fetch(new URL("/api/info", ui.url)).then((r) => r.json());
      expect(info.device).toBe("cpu");
      expect(info).not.toHaveProperty("remote");
    } finally {
      await ui.close();
    }
  });
});
