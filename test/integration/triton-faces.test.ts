/**
 * Every face pointed at a real Triton server, as a user runs it: the CLI in a subprocess, sam3-mcp over stdio with
 * the SDK client, a Node-RED runtime with a deployed flow, and the web UI's HTTP API. One server serves the bundled
 * 336 pack for the whole file; the web UI is started before it (the server down, then up on the port it names), and
 * the MCP test kills it, so that one comes last.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openPack } from "../../core/pack/open";
import { writeTritonRepository } from "../../core/triton/model-repository";
import { startUi } from "../../web/server";
import { cli, oneError } from "../support/cli";
import { firstText, MCP_MAIN } from "../support/mcp";
import { startNodeRed, type FlowNode, type NodeRedRuntime } from "../support/node-red";
import { REPO, SCENE } from "../support/reference";
import { describeWithTriton, freePorts, startTritonServer, type TritonServer } from "../support/triton-server";

const PACK = "sam3-tiny-336";
const SEGMENT = ["segment", SCENE, "--text", "red circle", "--threshold", "0"];

/** The mask PNGs a segment run wrote, by name. */
const maskFiles = (dir: string) =>
  Object.fromEntries(readdirSync(dir).filter((f) => /\.mask-\d+\.png$/.test(f)).sort().map((f) => [f, readFileSync(join(dir, f))]));

/** A Node-RED flow: POST /PATH with an image body -> sam3-segment-image on `model` -> the objects as JSON, or the error's code with 502. */
function segmentFlow(tab: string, path: string, model: FlowNode): FlowNode[] {
  const id = (name: string) => `${tab}-${name}`;
  const node = (name: string, type: string, settings: Record<string, unknown>, wires: string[] = []): FlowNode => ({ id: id(name), type, z: tab, wires: [wires.map(id)], ...settings });
  return [
    { id: tab, type: "tab", label: tab },
    model,
    node("in", "http in", { url: `/${path}`, method: "post", upload: false }, ["segment"]),
    // a GET on the same path answers once the flow is deployed: what deploy() waits for
    node("ready", "http in", { url: `/${path}`, method: "get", upload: false }, ["out"]),
    node("segment", "sam3-segment-image", { model: model.id, property: "payload", propertyType: "msg", text: "red circle", threshold: "0", points: "", boxes: "", fineness: "", overlay: false, masks: false, paths: "off", pathFolder: "" }, ["out"]),
    node("out", "http response", { statusCode: "", headers: {} }),
    node("catch", "catch", { scope: [id("segment")], uncaught: false }, ["failed"]),
    node("failed", "change", {
      rules: [
        { t: "set", p: "statusCode", pt: "msg", to: "502", tot: "num" },
        { t: "set", p: "payload", pt: "msg", to: "{\"code\": error.code, \"message\": error.message}", tot: "jsonata" },
      ],
    }, ["out"]),
  ];
}

const modelNode = (id: string, engine: string): FlowNode => ({ id, type: "sam3-model", name: "", model: PACK, device: "cpu", engine, threads: "", threshold: "", fineness: "" });

describeWithTriton("the faces on a real Triton server", () => {
  const scratch = mkdtempSync(join(tmpdir(), "sam3-triton-faces-"));
  let repository: string;
  let server: TritonServer;
  let port: number;
  let closedPort: number;
  let engine: string;
  let ui: Awaited<ReturnType<typeof startUi>>;
  let cookie = "";

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${ui.url.replace(/\/(\?.*)?$/, "")}${path}`, { ...init, headers: { cookie, ...(init.headers as Record<string, string>) } });
    cookie ||= (res.headers.get("set-cookie") ?? "").split(";")[0];
    return { status: res.status, body: await res.json() };
  };
  const uploadScene = () =>
    api("/api/media", { method: "POST", headers: { "content-type": "application/octet-stream", "x-file-name": "scene.png" }, body: readFileSync(SCENE) });

  beforeAll(async () => {
    repository = join(scratch, "repository");
    await writeTritonRepository(openPack(PACK), repository, { kind: "cpu" });
    [port, closedPort] = await freePorts(2);
    engine = `triton://127.0.0.1:${port}`;
    // the UI starts while nothing listens there yet: the server comes up in the second test
    ui = await startUi({ port: 0, token: false, engine: `${engine}?retries=0`, log: () => undefined });
  }, 60_000);
  afterAll(async () => {
    await ui?.close();
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("web UI started while Triton is down: its answers carry REMOTE_UNAVAILABLE", async () => {
    await expect.poll(async () => (await api("/api/info")).body.error, { timeout: 20_000 }).toMatch(/Triton/i);
    const info = (await api("/api/info")).body;
    expect(info).toMatchObject({ ready: false, remote: `127.0.0.1:${port}` });
    const upload = await uploadScene();
    expect(upload.status).toBe(503);
    expect(upload.body.code).toBe("REMOTE_UNAVAILABLE");
    expect(JSON.stringify(upload.body)).not.toMatch(/\/(tmp|work|home)\//);
  });

  it("then Triton starts on that port: the same UI turns ready and segments, without a restart", async () => {
    server = await startTritonServer(repository, { httpPort: port });
    await expect.poll(async () => (await api("/api/info")).body.ready, { timeout: 30_000 }).toBe(true);
    const info = (await api("/api/info")).body;
    expect(info.remote).toBe(`127.0.0.1:${port}`);
    expect(info.error).toBeUndefined();
    const upload = await uploadScene();
    expect(upload.status, JSON.stringify(upload.body)).toBe(200);
    const segmented = await api(`/api/media/${upload.body.id}/segment`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "red circle", threshold: 0 }) });
    expect(segmented.status, JSON.stringify(segmented.body)).toBe(200);
    expect(segmented.body.objects.length).toBeGreaterThan(0);
  }, 90_000);

  it("CLI segment --engine writes the same mask PNGs, byte for byte, as without it", async () => {
    const [local, remote] = [join(scratch, "local"), join(scratch, "remote")];
    const [here, there] = await Promise.all([cli(...SEGMENT, "--out", local), cli(...SEGMENT, "--engine", engine, "--out", remote)]);
    expect(here.code, here.stderr).toBe(0);
    expect(there.code, there.stderr).toBe(0);
    const [a, b] = [maskFiles(local), maskFiles(remote)];
    expect(Object.keys(a).length).toBeGreaterThan(0);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const name of Object.keys(a)) expect(Buffer.compare(b[name], a[name]), name).toBe(0);
  }, 60_000);

  it("CLI models verify --engine passes and names the Triton server", async () => {
    const run = await cli("models", "verify", PACK, "--engine", engine);
    expect(run.code, run.stderr).toBe(0);
    expect(`${run.stdout}${run.stderr}`).toMatch(new RegExp(`Triton.*127\\.0\\.0\\.1:${port}|127\\.0\\.0\\.1:${port}.*Triton`, "i"));
  }, 60_000);

  it("CLI segment --engine on a port where nothing listens: one error line naming the unreachable server", async () => {
    const line = oneError(await cli(...SEGMENT, "--engine", `triton://127.0.0.1:${closedPort}?retries=0`, "--out", join(scratch, "none")), 1);
    expect(line).toMatch(new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
    expect(line).toMatch(/Triton server .* does not answer/);
    expect(line).not.toMatch(/\/(tmp|work|home)\/|\bat .*\.js/);
  });

  it("Node-RED: a flow on a Triton model answers with the objects; one whose server is down gets the error on its message", async () => {
    let red: NodeRedRuntime | undefined;
    try {
      red = await startNodeRed();
      const flows = [...segmentFlow("up", "up", modelNode("model-up", engine)), ...segmentFlow("down", "down", modelNode("model-down", `triton://127.0.0.1:${closedPort}?retries=0`))];
      await red.deploy(flows, `${red.base}/down`);
      const post = (path: string) => fetch(`${red!.base}/${path}`, { method: "POST", headers: { "content-type": "image/png" }, body: readFileSync(SCENE) });
      const up = await post("up");
      const objects = await up.json();
      expect(up.status, JSON.stringify(objects)).toBe(200);
      expect(objects.length).toBeGreaterThan(0);
      expect(objects[0]).toMatchObject({ label: "red circle" });
      const down = await post("down");
      expect(down.status).toBe(502);
      expect((await down.json()).code).toBe("REMOTE_UNAVAILABLE");
      expect(await red.alive()).toBe(true);
      // the working flow still works after the other's failure
      expect((await post("up")).status).toBe(200);
    } finally {
      await red?.stop();
    }
  }, 90_000);

  it("sam3-mcp --engine: segment_image works; with the server killed the tool fails with REMOTE_UNAVAILABLE and the server stays up", async () => {
    const out = join(scratch, "mcp-out");
    const client = new Client({ name: "agent", version: "1" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [MCP_MAIN, "--root", join(REPO, "examples"), "--out", out, "--engine", `${engine}?retries=1&timeout=10`], stderr: "pipe" }));
    try {
      const call = (text: string) =>
        client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", text, threshold: 0, overlay: false } }) as Promise<{ isError?: boolean; content: unknown; structuredContent?: { objects: unknown[] } }>;
      const first = await call("red circle");
      expect(first.isError, firstText(first)).toBeFalsy();
      expect(first.structuredContent!.objects.length).toBeGreaterThan(0);
      await server.kill();
      const failed = await call("blue square");
      expect(failed.isError).toBe(true);
      expect(firstText(failed)).toMatch(/REMOTE_UNAVAILABLE/);
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name)).toContain("segment_image");
    } finally {
      await client.close();
    }
  }, 60_000);
});
