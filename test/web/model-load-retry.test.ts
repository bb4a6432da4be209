/**
 * A model that fails to load is loaded again by the next request (and each /api/info poll of the page), and its
 * failure is answered with its own code: the UI recovers without a restart once the cause is gone. The Triton
 * form of the same (the server down at start, then up) is in test/integration/triton-faces.test.ts.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPack } from "../../core/pack/open";
import { startUi } from "../../web/server";
import { SCENE } from "../support/reference";

describe("web UI: a failed model load", () => {
  const scratch = mkdtempSync(join(tmpdir(), "sam3-ui-retry-"));
  // an empty folder where the pack will be: the first load fails with PACK_INVALID
  const pack = join(scratch, "pack");
  let ui: Awaited<ReturnType<typeof startUi>>;
  let cookie = "";

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(new URL(path, ui.url), { ...init, headers: { cookie, ...(init.headers as Record<string, string>) } });
    cookie ||= (res.headers.get("set-cookie") ?? "").split(";")[0];
    return { status: res.status, body: await res.json() };
  };
  const uploadScene = () => api("/api/media", { method: "POST", headers: { "content-type": "application/octet-stream", "x-file-name": "scene.png" }, body: readFileSync(SCENE) });

  beforeAll(async () => {
    mkdirSync(pack);
    ui = await startUi({ port: 0, token: false, model: pack, log: () => undefined });
  });
  afterAll(async () => {
    await ui?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("is answered with its own code and status, not a generic one, and without the server's path", async () => {
    await expect.poll(async () => (await api("/api/info")).body.error, { timeout: 10_000 }).toMatch(/manifest/);
    const upload = await uploadScene();
    expect(upload.status).toBe(500);
    expect(upload.body.code).toBe("PACK_INVALID");
    expect(upload.body.error).toMatch(/^the model failed to load: /);
    expect(upload.body.error).not.toContain(scratch);
  });

  it("is tried again: once the pack is there, the same server turns ready and segments", async () => {
    cpSync(openPack("sam3-tiny-336").dir, pack, { recursive: true });
    // the page's poll of /api/info is what starts the new load
    await expect.poll(async () => (await api("/api/info")).body.ready, { timeout: 30_000 }).toBe(true);
    expect((await api("/api/info")).body.error).toBeUndefined();
    const upload = await uploadScene();
    expect(upload.status, JSON.stringify(upload.body)).toBe(200);
    const segmented = await api(`/api/media/${upload.body.id}/segment`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ points: [{ x: 160, y: 170 }] }) });
    expect(segmented.status, JSON.stringify(segmented.body)).toBe(200);
    expect(segmented.body.objects).toHaveLength(1);
  }, 60_000);
});
