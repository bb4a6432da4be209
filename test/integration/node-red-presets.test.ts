import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeInBrowser, launchChromium } from "../support/browser";
import { openEditor, startNodeRed, type FlowNode, type NodeRedRuntime } from "../support/node-red";
import { REPO } from "../support/reference";

const PACK = join(REPO, "models", "sam3-tiny-336");
const PRESET = "usls-sam3-image";
/** The preset's files (its default precision) served with the bundled pack's graphs: the download is real, the weights tiny. */
const FILES: Record<string, string> = { "vision-encoder.onnx": "onnx/vision_encoder.onnx", "text-encoder.onnx": "onnx/text_encoder.onnx", "geo-encoder-mask-decoder.onnx": "onnx/detector_decoder_boxes.onnx", "tokenizer.json": "tokenizer.json" };
const CHUNK = 64 * 1024;

const modelsDir = mkdtempSync(join(tmpdir(), "sam3-nr-models-"));
let mirror: Server;
let runtime: NodeRedRuntime;
let browser: Browser;

/** A model host on loopback that sends each file in slow chunks, so a fetch lasts long enough to watch. */
async function startMirror(): Promise<string> {
  mirror = createServer((req, res) => {
    const file = FILES[decodeURIComponent(new URL(req.url!, "http://x").pathname.slice(1))];
    if (!file) return res.writeHead(404).end();
    const body = readFileSync(join(PACK, file));
    res.writeHead(200, { "content-length": body.length });
    let at = 0;
    const next = () => {
      if (res.destroyed) return;
      if (at >= body.length) return res.end();
      res.write(body.subarray(at, (at += CHUNK)));
      setTimeout(next, 15);
    };
    next();
  });
  await new Promise<void>((r) => mirror.listen(0, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/`;
}

beforeAll(async () => {
  const base = await startMirror();
  runtime = await startNodeRed({ SAM3_MODELS_DIR: modelsDir, SAM3_MODEL_BASE_URL: base });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  mirror?.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

interface FetchStatus {
  state: string;
  preset?: string;
  file?: string;
  bytes?: number;
  total?: number;
  error?: { code: string; message: string };
}

const api = async (path: string, body?: unknown) => {
  const response = await fetch(`${runtime.base}/sam3/presets${path}`, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
};

/** Polls the fetch until it ends, returning every status seen. */
async function watchFetch(): Promise<FetchStatus[]> {
  const seen: FetchStatus[] = [];
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const { json } = await api("/fetch");
    seen.push(json);
    if (json.state !== "running") return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the fetch did not end: ${JSON.stringify(seen.at(-1))}`);
}

describe("fetching a preset from the Node-RED admin API", () => {
  it("lists the presets with their state and sizes", async () => {
    const { status, json } = await api("");
    expect(status).toBe(200);
    const byName = Object.fromEntries(json.presets.map((p: { name: string }) => [p.name, p]));
    expect(byName["sam3-tiny-336"]).toMatchObject({ state: "bundled", dtypes: [] });
    expect(byName[PRESET]).toMatchObject({ state: "available", capabilities: expect.stringContaining("text prompts") });
    expect(byName[PRESET].dtypes[0].dtype).toBe("fp32");
    expect(json.fetch).toEqual({ state: "idle" });
  });

  it("refuses what cannot be fetched with typed errors", async () => {
    expect(await api("/fetch", { preset: "no-such-preset" })).toEqual({ status: 404, json: { code: "UNKNOWN_PRESET", message: expect.stringContaining('unknown preset "no-such-preset"') } });
    expect(await api("/fetch", { preset: "sam3-tiny-336" })).toMatchObject({ status: 400, json: { code: "BAD_REQUEST" } });
    expect(await api("/fetch", { preset: PRESET, dtype: "fp99" })).toMatchObject({ status: 400, json: { code: "BAD_OPTION" } });
    expect(await api("/fetch", {})).toMatchObject({ status: 400, json: { code: "BAD_REQUEST" } });
    expect(await api("/fetch", { preset: "x".repeat(10_000) })).toMatchObject({ status: 400, json: { code: "BAD_REQUEST" } });
    expect((await api("/fetch")).json).toEqual({ state: "idle" });
  });

  it("fetches one preset at a time into the models folder, with progress, and lists it installed", async () => {
    const started = await api("/fetch", { preset: PRESET });
    expect(started).toMatchObject({ status: 200, json: { state: "running", preset: PRESET, dtype: "fp32" } });
    expect(await api("/fetch", { preset: "usls-sam3-tracker" })).toMatchObject({ status: 409, json: { code: "LIMIT_EXCEEDED", message: expect.stringContaining(`${PRESET} is being fetched`) } });
    const seen = await watchFetch();
    expect(seen.at(-1)).toMatchObject({ state: "done", preset: PRESET });
    const progress = seen.filter((s) => s.state === "running" && s.bytes! > 0 && s.total);
    expect(progress.length).toBeGreaterThan(3);
    expect(new Set(progress.map((s) => s.file)).size).toBeGreaterThan(1);
    for (const [served, source] of Object.entries(FILES)) expect(readFileSync(join(modelsDir, PRESET, served)).equals(readFileSync(join(PACK, source)))).toBe(true);
    expect(existsSync(join(modelsDir, PRESET, "manifest.json"))).toBe(true);
    const listed = (await api("")).json.presets.find((p: { name: string }) => p.name === PRESET);
    expect(listed.state).toBe("installed");
  });

  it("reports a fetch that fails with its code, and the next one may start", async () => {
    // the mirror has no tracker files
    expect((await api("/fetch", { preset: "onnx-community-sam3-tracker" })).status).toBe(200);
    const end = (await watchFetch()).at(-1)!;
    expect(end).toMatchObject({ state: "failed", preset: "onnx-community-sam3-tracker", error: { code: "DOWNLOAD_FAILED" } });
    expect(end.error!.message).toMatch(/answered 404/);
    expect(end.error!.message).not.toContain(modelsDir);
  });
  it("cancels the running fetch; fetching again completes it", async () => {
    rmSync(join(modelsDir, PRESET), { recursive: true, force: true });
    expect((await api("/fetch", { preset: PRESET })).status).toBe(200);
    await expect.poll(async () => (await api("/fetch")).json.bytes, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await api("/fetch/cancel", {})).status).toBe(200);
    expect((await watchFetch()).at(-1)).toMatchObject({ state: "cancelled", preset: PRESET });
    expect(existsSync(join(modelsDir, PRESET, "manifest.json"))).toBe(false);
    expect((await api("/fetch", { preset: PRESET })).status).toBe(200);
    expect((await watchFetch()).at(-1)).toMatchObject({ state: "done", preset: PRESET });
    expect(existsSync(join(modelsDir, PRESET, "manifest.json"))).toBe(true);
  });
});

describeInBrowser("the model node's Packs list in the editor", () => {
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  it("lists the presets, fetches one with visible progress, then offers to use it", async () => {
    rmSync(join(modelsDir, PRESET), { recursive: true, force: true });
    const { page } = await openEditor(browser, runtime);
    const model: FlowNode = { id: "ui-model", type: "sam3-model", name: "", model: "sam3-tiny-336", device: "cpu", threads: "0", threshold: "0.5", fineness: "0" };
    await page.evaluate((n) => {
      const RED = (window as unknown as { RED: { view: { importNodes(n: FlowNode[], o: object): void }; editor: { editConfig(name: string, type: string, id: string): void } } }).RED;
      RED.view.importNodes(n, { generateIds: false });
      RED.editor.editConfig("", "sam3-model", "ui-model");
    }, [model]);
    const row = (name: string) => page.locator(`#node-config-sam3-presets tr[data-preset="${name}"]`);
    await expect.poll(() => row(PRESET).locator(".sam3-preset-state").textContent()).toMatch(/^available/);
    expect(await row("sam3-tiny-336").locator(".sam3-preset-state").textContent()).toBe("bundled");
    await row(PRESET).locator(".sam3-preset-fetch").click();
    // the status line counts the bytes while the slow mirror sends them, with a progress bar
    const status = page.locator("#node-config-sam3-fetch .sam3-fetch-text");
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toMatch(new RegExp(`^fetching ${PRESET} \\(fp32\\) file \\d/4 .+: \\d+\\.\\d MiB of \\d+\\.\\d MiB$`));
    expect(await page.locator("#node-config-sam3-fetch progress").count()).toBe(1);
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toBe(`${PRESET} installed`);
    await expect.poll(() => row(PRESET).locator(".sam3-preset-state").textContent()).toBe("installed");
    await row(PRESET).locator(".sam3-preset-use").click();
    expect(await page.locator("#node-config-input-model").inputValue()).toBe(PRESET);
    await page.close();
  });
});

describe("the preset endpoints behind Node-RED's admin permissions", () => {
  let secured: NodeRedRuntime;
  const PASSWORD = "a-test-password";
  // a token's scope may not exceed its user's permissions
  const token = async (username: string, scope: string) => {
    const form = new URLSearchParams({ client_id: "node-red-admin", grant_type: "password", scope, username, password: PASSWORD });
    const answer = await fetch(`${secured.base}/auth/token`, { method: "POST", body: form });
    return ((await answer.json()) as { access_token: string }).access_token;
  };
  const call = async (path: string, bearer?: string, body?: unknown) =>
    (
      await fetch(`${secured.base}/sam3/presets${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    ).status;

  beforeAll(async () => {
    const bcrypt = createRequire(join(REPO, "package.json"))("bcryptjs") as { hashSync(p: string, rounds: number): string };
    const password = bcrypt.hashSync(PASSWORD, 4);
    const users = [
      { username: "viewer", password, permissions: "read" },
      { username: "admin", password, permissions: "*" },
    ];
    secured = await startNodeRed({ SAM3_MODELS_DIR: modelsDir }, { adminAuth: { type: "credentials", users } });
  }, 90_000);
  afterAll(() => secured?.stop());

  it("listing needs sam3-model.read, fetching sam3-model.write", async () => {
    expect(await call("")).toBe(401);
    expect(await call("/fetch", undefined, { preset: PRESET })).toBe(401);
    const viewer = await token("viewer", "read");
    expect(await call("", viewer)).toBe(200);
    expect(await call("/fetch", viewer)).toBe(200);
    expect(await call("/fetch", viewer, { preset: PRESET })).toBe(401);
    expect(await call("/fetch/cancel", viewer, {})).toBe(401);
    // the admin may: a bundled preset is then refused for what it is
    expect(await call("/fetch", await token("admin", "*"), { preset: "sam3-tiny-336" })).toBe(400);
  });
});
