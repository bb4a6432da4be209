import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NODE_NAMES, startNodeRed, type FlowNode, type NodeRedRuntime } from "../support/node-red";
import { REPO, SCENE } from "../support/reference";

const PACKAGE = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
const FLOWS_DIR = join(REPO, "examples", "flows");

let runtime: NodeRedRuntime;
let base: string;
let OUT: string;
const log = () => runtime.log();

beforeAll(async () => {
  runtime = await startNodeRed();
  base = runtime.base;
  OUT = join(runtime.userDir, "out");
}, 90_000);

afterAll(() => runtime?.stop());

describe("the package in a real Node-RED runtime", () => {
  it("lists every sam3 node type, enabled, from this package", async () => {
    const sets: { module: string; types: string[]; enabled: boolean; err?: string }[] = await (await fetch(`${base}/nodes`, { headers: { accept: "application/json" } })).json();
    const ours = sets.filter((s) => s.module === PACKAGE.name);
    expect(ours.map((s) => s.err).filter(Boolean), log()).toEqual([]);
    expect(ours.every((s) => s.enabled)).toBe(true);
    expect(ours.flatMap((s) => s.types).sort()).toEqual([...NODE_NAMES].sort());
    const editorScript = await fetch(`${base}/resources/@sam3-flow/node-red-sam3/sam3-editor.js`);
    expect(editorScript.status).toBe(200);
    expect(await editorScript.text()).toContain("SAM3_EDITOR");
    const grammar = await fetch(`${base}/sam3/prompts.js`);
    expect(grammar.status).toBe(200);
    expect(await grammar.text()).toContain("window.SAM3_PROMPTS = ");
  });

  it("deploys every example flow through the admin API", async () => {
    const flows: FlowNode[] = readdirSync(FLOWS_DIR).filter((f) => f.endsWith(".json")).flatMap((f) => JSON.parse(readFileSync(join(FLOWS_DIR, f), "utf8")));
    // the video examples ask the user for a path and write to /tmp/sam3-out: point them at the bundled clip and a scratch folder
    for (const node of flows) {
      if (node.type === "sam3-load-video" && node.property === "/path/to/video.mp4") node.property = join(REPO, "examples", "media", "shapes.mp4");
      if (node.type === "sam3-export-masks") node.directory = OUT;
      // the bundled random weights find no instance of the text, and an export of masks without results is refused:
      // the tracking flow writes its overlay only
      if (node.id === "s3trk-export") node.json = false;
    }
    const usedTypes = new Set(flows.map((n: { type: string }) => n.type));
    expect(NODE_NAMES.filter((t) => !usedTypes.has(t)), "every sam3 node appears in an example").toEqual([]);
    await runtime.deploy(flows, `${base}/sam3`);
    const deployed: { id: string }[] = await (await fetch(`${base}/flows`, { headers: { accept: "application/json" } })).json();
    expect(deployed.length).toBe(flows.length);
  });

  it("flow 1: serves the upload page and answers an uploaded image with its overlay", async () => {
    const page = await fetch(`${base}/sam3`);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("<form");
    const response = await fetch(`${base}/sam3/segment?text=red%20circle&threshold=0`, { method: "POST", headers: { "content-type": "image/png" }, body: readFileSync(SCENE) });
    expect(response.status, log()).toBe(200);
    expect(response.headers.get("content-type")).toContain("image/png");
    expect(response.headers.get("x-sam3-objects")).toBe("16");
    const overlay = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([overlay.format, overlay.width, overlay.height]).toEqual(["png", 640, 480]);
    const bad = await fetch(`${base}/sam3/segment`, { method: "POST", headers: { "content-type": "image/png" }, body: "not an image" });
    expect(bad.status).toBe(400);
    // a generic reason and the code, never the decoder's own words
    expect(await bad.text()).toBe("the body is not an image that can be decoded: send the bytes of a JPEG, PNG or WebP (BAD_IMAGE)");
  });

  it("flow 4: a snapshot raises the alert only when the masks cover enough of the frame", async () => {
    const post = (query: string) => fetch(`${base}/sam3/snapshot${query}`, { method: "POST", headers: { "content-type": "image/png" }, body: readFileSync(SCENE) });
    // the bundled random weights score ~0.25: at the default 0.5 nothing is found, at 0 everything is
    const quiet = await (await post("")).json();
    expect(quiet).toEqual({ objects: 0, fraction: 0, alert: false });
    const busy = await (await post("?threshold=0")).json();
    expect(busy.objects).toBe(16);
    expect(busy.fraction).toBeGreaterThan(0.05);
    expect(busy.alert).toBe(true);
    // overlapping masks can add up to more than the frame, so only a level above their sum stays quiet
    const strict = await (await post(`?threshold=0&alert=${busy.fraction + 0.01}`)).json();
    expect(strict.alert).toBe(false);
  });

  it("flows 2 and 3: an inject runs load, prompts, propagation, removal and export in the runtime", async () => {
    for (const id of ["s3trk-inject", "s3clk-inject"]) expect((await fetch(`${base}/inject/${id}`, { method: "POST" })).status).toBe(200);
    const wanted = ["tracked.overlay.mp4", "clicked.frames.jsonl", "clicked.polygons.jsonl"];
    const until = Date.now() + 60_000;
    const listing = () => readdirSync(OUT, { withFileTypes: true }).map((e) => e.name);
    while (Date.now() < until && !(existsSync(OUT) && wanted.every((f) => listing().includes(f)))) await new Promise((r) => setTimeout(r, 250));
    expect(listing(), log()).toEqual(expect.arrayContaining(wanted));
    const objectFolders = existsSync(join(OUT, "clicked.masks")) ? readdirSync(join(OUT, "clicked.masks")) : [];
    expect(objectFolders).not.toContain("obj-2");
  });
});
