import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleFlow, exampleFlows, exampleNames, NODE_NAMES, startNodeRed, type FlowNode, type NodeRedRuntime } from "../support/node-red";
import { REPO, SCENE } from "../support/reference";

const PACKAGE = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
/** Where the shipped video examples write their files. */
const EXAMPLE_OUT = "/tmp/sam3-out";
const EXAMPLES = ["camera-person-alert", "click-propagate-remove-export", "dashboard-click-to-segment", "segment-image-by-text", "track-video-by-text"];

let runtime: NodeRedRuntime;
let base: string;
const log = () => runtime.log();
const json = (path: string) => fetch(`${base}${path}`, { headers: { accept: "application/json" } }).then((r) => r.json());

beforeAll(async () => {
  // the dashboard example's ui-* nodes need Dashboard 2.0: without it the deploy would wait for their types
  runtime = await startNodeRed({}, {}, ["@flowfuse/node-red-dashboard"]);
  base = runtime.base;
}, 90_000);

afterAll(() => runtime?.stop());

describe("the package in a real Node-RED runtime", () => {
  it("lists every sam3 node type, enabled, from this package", async () => {
    const sets: { module: string; types: string[]; enabled: boolean; err?: string }[] = await json("/nodes");
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

  it("Import > Examples lists the five flows directly under the package, and each loads", async () => {
    // what the editor's import dialog asks for: the example libraries, then this package's folder
    expect(await json("/library/examples/flows/")).toContain(PACKAGE.name);
    const listing: unknown[] = await json(`/library/examples/flows/${PACKAGE.name}/`);
    expect(listing).toEqual(EXAMPLES.map((fn) => ({ fn })));
    expect(exampleNames()).toEqual(EXAMPLES);
    for (const name of EXAMPLES) expect(await json(`/library/examples/flows/${PACKAGE.name}/${name}`)).toEqual(exampleFlow(name));
  });

  it("the examples share one model config node, and their flow info has no HTML to swallow", () => {
    const models = EXAMPLES.map((name) => exampleFlow(name).filter((n) => n.type === "sam3-model"));
    expect(models.every((m) => m.length === 1)).toBe(true);
    expect(new Set(models.map(([m]) => JSON.stringify(m))).size).toBe(1);
    for (const name of EXAMPLES) {
      const tab = exampleFlow(name).find((n) => n.type === "tab")!;
      expect(tab.info, name).not.toMatch(/<[a-z]/i);
    }
  });

  it("deploys every example flow as shipped through the admin API", async () => {
    const flows = exampleFlows();
    const usedTypes = new Set(flows.map((n: { type: string }) => n.type));
    expect(NODE_NAMES.filter((t) => !usedTypes.has(t)), "every sam3 node appears in an example").toEqual([]);
    await runtime.deploy(flows, `${base}/sam3`);
    const deployed: FlowNode[] = await json("/flows");
    expect(deployed.length).toBe(flows.length);
    expect(deployed.filter((n) => n.type === "sam3-model")).toHaveLength(1);
  });

  it("segment-image-by-text: serves the upload page and answers an uploaded image with its overlay", async () => {
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

  it("camera-person-alert: the alert level compares with the union of the masks, never more than the frame", async () => {
    const post = (query: string) => fetch(`${base}/sam3/snapshot${query}`, { method: "POST", headers: { "content-type": "image/png" }, body: readFileSync(SCENE) });
    // the bundled random weights score ~0.25: at the default 0.5 nothing is found, at 0 everything is
    const quiet = await (await post("")).json();
    expect(quiet).toEqual({ objects: 0, fraction: 0, alert: false });
    const busy = await (await post("?threshold=0")).json();
    expect(busy.objects).toBe(16);
    // sixteen overlapping masks: their areas add up to several frames, their union is part of one
    expect(busy.fraction).toBeGreaterThan(0.05);
    expect(busy.fraction).toBeLessThanOrEqual(1);
    expect(busy.alert).toBe(true);
    const strict = await (await post(`?threshold=0&alert=${busy.fraction + 0.01}`)).json();
    expect(strict.alert).toBe(false);
  });

  it("track-video-by-text and click-propagate-remove-export: an inject runs them on the bundled clip and writes their files", async () => {
    const started = Date.now();
    const wanted = ["tracked.overlay.mp4", "tracked.frames.jsonl", "clicked.frames.jsonl", "clicked.polygons.jsonl", "clicked.masks"];
    // files of an earlier run must not pass for this one's
    for (const f of wanted) rmSync(join(EXAMPLE_OUT, f), { recursive: true, force: true });
    for (const id of ["s3trk-inject", "s3clk-inject"]) expect((await fetch(`${base}/inject/${id}`, { method: "POST" })).status).toBe(200);
    const written = () => (existsSync(EXAMPLE_OUT) ? readdirSync(EXAMPLE_OUT).filter((f) => wanted.includes(f) && statSync(join(EXAMPLE_OUT, f)).mtimeMs >= started - 1000) : []);
    const until = Date.now() + 90_000;
    while (Date.now() < until && written().length < wanted.length) await new Promise((r) => setTimeout(r, 250));
    expect(written().sort(), log()).toEqual([...wanted].sort());
    // object 2 was removed before the export
    expect(readdirSync(join(EXAMPLE_OUT, "clicked.masks"))).toEqual(["obj-1"]);
    const overlay = await sharp(join(EXAMPLE_OUT, "tracked.overlay.mp4")).metadata().catch(() => undefined);
    expect(overlay, "an MP4 is no still image").toBeUndefined();
    expect(statSync(join(EXAMPLE_OUT, "tracked.overlay.mp4")).size).toBeGreaterThan(1000);
  }, 120_000);
});
