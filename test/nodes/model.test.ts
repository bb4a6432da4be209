import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Node } from "node-red";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ENGINE_HELP } from "../../core";
import { distSam3, messagePaths, modelConfig, segmentImageNode, sink, TestFlow, timed, type FlowNode } from "../support/node-red";
import { REPO, SCENE } from "../support/reference";
import { makeVideo, type SyntheticVideo } from "../support/synthetic-video";

const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 8, fps: 10 };
const LONG: SyntheticVideo = { width: 160, height: 120, frames: 48, fps: 24 };
const dir = mkdtempSync(join(tmpdir(), "sam3-nodes-model-"));
const clips = { short: "", long: "" };
const scene = readFileSync(SCENE);
const { Sam3 } = distSam3;
/** Node-RED's node class, as the runtime the tests deploy on loads it: statuses set while a flow starts are seen on it. */
const RuntimeNode = createRequire(join(REPO, "package.json"))("@node-red/runtime/lib/nodes/Node") as { prototype: Node };

/** Node-RED gives a node's close handler 15 s before it gives up on it. */
const NODE_RED_CLOSE_TIMEOUT_MS = 15_000;
const WELL_WITHIN_MS = 5_000;

const loadNode = (id: string, out: string, model = "model"): FlowNode => ({ id, type: "sam3-load-video", name: "", model, property: "", maxSide: "", stride: "", ...messagePaths(), wires: [[out]] });
const silent = { status: () => undefined } as unknown as Node;
/** What a pack with every graph can do, as its users' status says. */
const FULL_PACK_CAN = "text prompts, exemplar boxes, clicks, box prompts, mask refinement, video tracking (memory), text prompts on video";
const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

describe("sam3-model config node (compiled node, real engine)", () => {
  let flow: TestFlow | undefined;

  beforeAll(async () => {
    clips.short = await makeVideo(join(dir, "short.mp4"), CLIP);
    clips.long = await makeVideo(join(dir, "long.mp4"), LONG);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await flow?.unload();
    flow = undefined;
    expect(Sam3.loadedModels()).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads lazily: no engine until the first message, one after it, none after the flow stops", async () => {
    flow = await TestFlow.load([modelConfig(), segmentImageNode("seg", "out", { threshold: "0" }), sink("out")]);
    expect(Sam3.loadedModels()).toBe(0);
    const msg = await flow.request("seg", { payload: scene, text: "thing" }, "out");
    expect(msg.payload).toHaveLength(16);
    expect(Sam3.loadedModels()).toBe(1);
    // the user's status says what the pack can do once it is there, then shows the result
    expect(flow.statuses("seg")).toContainEqual({ fill: "green", shape: "ring", text: `ready: ${FULL_PACK_CAN}` });
    expect(flow.lastStatus("seg")).toEqual({ fill: "green", shape: "dot", text: "16 objects" });
    const { ms } = await timed(() => flow!.unload());
    flow = undefined;
    expect(Sam3.loadedModels()).toBe(0);
    expect(ms).toBeLessThan(WELL_WITHIN_MS);
  });

  it("is shared: every node pointing at it uses one engine, opened once", async () => {
    const open = vi.spyOn(Sam3, "open");
    flow = await TestFlow.load([
      modelConfig({ threads: "1" }),
      segmentImageNode("segA", "outA", { threshold: "0" }),
      segmentImageNode("segB", "outB", { threshold: "0" }),
      loadNode("load", "loaded"),
      ...["outA", "outB", "loaded"].map(sink),
    ]);
    // both nodes at once: the second must wait for the first's load, not start its own
    const [a, b] = await Promise.all([
      flow.request("segA", { payload: scene, text: "thing" }, "outA"),
      flow.request("segB", { payload: scene, points: [{ x: 320, y: 240 }] }, "outB"),
    ]);
    expect(a.payload).toHaveLength(16);
    expect(b.payload).toHaveLength(1);
    expect(open).toHaveBeenCalledTimes(1);
    expect(open).toHaveBeenCalledWith(expect.objectContaining({ model: "sam3-tiny-336", device: "cpu", intraOpThreads: 1 }));
    const model = flow.model();
    expect(await model.image(silent)).toBe(await model.image(silent));
    // the video predictor opens its own handle on the same engine
    await flow.request("load", { payload: clips.short }, "loaded");
    expect(open).toHaveBeenCalledTimes(2);
    expect(await model.video(silent)).toBe(await model.video(silent));
    expect(Sam3.loadedModels()).toBe(1);
    // empty settings leave the pack's own defaults
    expect(model.defaults).toEqual({ threshold: undefined, fineness: undefined });
  });

  it("empty settings keep the pack's own threshold; a bad Threshold or Fineness fails the message alike", async () => {
    // a copy of the bundled pack whose own detection threshold is 0.2 (its random weights score about 0.25)
    const pack = join(dir, "pack-own-threshold");
    cpSync(join(REPO, "models", "sam3-tiny-336"), pack, { recursive: true, filter: (f) => !f.includes("/hf") });
    const manifest = JSON.parse(readFileSync(join(pack, "manifest.json"), "utf8"));
    writeFileSync(join(pack, "manifest.json"), JSON.stringify({ ...manifest, thresholds: { ...manifest.thresholds, detection: 0.2 } }));
    flow = await TestFlow.load([modelConfig({ model: pack }), segmentImageNode("seg", "out"), sink("out")]);
    const found = (await flow.request("seg", { payload: scene, text: "thing" }, "out")).payload as { score: number }[];
    const sam = await flow.model().image(silent);
    const own = await sam.segment(scene, { text: "thing" });
    expect(found.map((o) => o.score)).toEqual(own.objects.map((o) => Number(o.score.toFixed(6))));
    expect(found.length).toBeGreaterThan(0);
    expect(Math.max(...found.map((o) => o.score))).toBeLessThan(0.5);
    await flow.unload();
    for (const setting of ["threshold", "fineness"]) {
      flow = await TestFlow.load([modelConfig({ [setting]: "abc" }), segmentImageNode("seg", "out"), sink("out")]);
      const error = await flow.failure("seg", { payload: scene, text: "thing" }, ["out"]);
      expect([error.code, error.message], setting).toEqual(["BAD_OPTION", expect.stringMatching(new RegExp(`${setting} of the model must be a number from 0 to 1`, "i"))]);
      await flow.unload();
    }
    flow = undefined;
  });

  it("a bad model fails the first message with a clear error, shown on the node's status; nothing stays loaded", async () => {
    flow = await TestFlow.load([modelConfig({ model: "nope" }), segmentImageNode("seg", "out", { threshold: "0" }), loadNode("load", "loaded"), sink("out"), sink("loaded")]);
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await flow.failure("seg", { payload: scene, text: "thing" }, ["out"]);
      expect(error.code).toBe("UNKNOWN_PRESET");
      expect(error.message).toMatch(/"nope" is neither a model pack folder nor a known preset \(known: .*sam3-tiny-336/);
      expect(flow.statuses("seg")).toContainEqual({ fill: "red", shape: "ring", text: "model failed to load" });
      expect(flow.lastStatus("seg")).toEqual({ fill: "red", shape: "ring", text: "unknown preset" });
    }
    const video = await flow.failure("load", { payload: clips.short }, ["loaded"]);
    expect(video.code).toBe("UNKNOWN_PRESET");
    expect(flow.statuses("load")).toContainEqual({ fill: "red", shape: "ring", text: "model failed to load" });
    expect(Sam3.loadedModels()).toBe(0);
  });

  it("an unknown device fails the first message with a clear error, not the deploy", async () => {
    flow = await TestFlow.load([modelConfig({ device: "gpu" }), segmentImageNode("seg", "out", { threshold: "0" }), sink("out")]);
    const error = await flow.failure("seg", { payload: scene, text: "thing" }, ["out"]);
    expect(error.code).toBe("BAD_OPTION");
    expect(error.message).toMatch(/unknown device "gpu" \(choose one of cpu, /);
    expect(flow.statuses("seg")).toContainEqual({ fill: "red", shape: "ring", text: "model failed to load" });
    expect(flow.lastStatus("seg")).toEqual({ fill: "red", shape: "ring", text: "bad option" });
    expect(Sam3.loadedModels()).toBe(0);
  });

  it("a bad Engine is said in red on its users at deploy and fails their messages with BAD_OPTION, without stopping Node-RED", async () => {
    const status = vi.spyOn(RuntimeNode.prototype, "status");
    const message = `engine option foo is unknown: give ${ENGINE_HELP}`;
    flow = await TestFlow.load([modelConfig({ engine: "triton://h:8000?foo=1" }), segmentImageNode("seg", "out", { threshold: "0" }), loadNode("load", "loaded"), sink("out"), sink("loaded")]);
    const shown = (id: string) => status.mock.calls.filter((_, i) => (status.mock.contexts[i] as Node).id === id).map(([s]) => s);
    for (const id of ["seg", "load"]) expect(shown(id), id).toContainEqual({ fill: "red", shape: "ring", text: message });
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await flow.failure("seg", { payload: scene, text: "thing" }, ["out"]);
      expect([error.code, error.message]).toEqual(["BAD_OPTION", expect.stringContaining(message)]);
    }
    expect(await flow.failure("load", { payload: clips.short }, ["loaded"])).toMatchObject({ code: "BAD_OPTION", message: expect.stringContaining(message) });
    expect(Sam3.loadedModels()).toBe(0);
    // the runtime goes on: the same flow deployed with the Engine emptied (as saved before the field) runs locally
    await flow.unload();
    status.mockClear();
    flow = await TestFlow.load([modelConfig({ engine: "" }), segmentImageNode("seg", "out", { threshold: "0" }), sink("out")]);
    expect((await flow.request("seg", { payload: scene, points: [{ x: 320, y: 240 }] }, "out")).payload).toHaveLength(1);
    expect(shown("seg").filter((s) => (s as { fill?: string }).fill === "red")).toHaveLength(0);
  });

  it("Engine local runs the model in this process", async () => {
    const open = vi.spyOn(Sam3, "open");
    flow = await TestFlow.load([modelConfig({ engine: "local" }), segmentImageNode("seg", "out", { threshold: "0" }), sink("out")]);
    expect((await flow.request("seg", { payload: scene, points: [{ x: 320, y: 240 }] }, "out")).payload).toHaveLength(1);
    expect(open).toHaveBeenCalledWith(expect.objectContaining({ engine: "local" }));
  });

  it("retries the load on the next message once the model is there", async () => {
    const pack = join(dir, "pack-installed-later");
    flow = await TestFlow.load([modelConfig({ model: pack }), segmentImageNode("seg", "out", { threshold: "0" }), loadNode("load", "loaded"), sink("out"), sink("loaded")]);
    expect((await flow.failure("seg", { payload: scene, text: "thing" }, ["out"])).code).toBe("UNKNOWN_PRESET");
    expect((await flow.failure("load", { payload: clips.short }, ["loaded"])).code).toBe("UNKNOWN_PRESET");
    symlinkSync(join(REPO, "models", "sam3-tiny-336"), pack, "dir");
    const msg = await flow.request("seg", { payload: scene, text: "thing" }, "out");
    expect(msg.payload).toHaveLength(16);
    expect(flow.lastStatus("seg")).toEqual({ fill: "green", shape: "dot", text: "16 objects" });
    const loaded = await flow.request("load", { payload: clips.short }, "loaded");
    expect(loaded.session).toMatchObject({ frames: CLIP.frames });
    expect(Sam3.loadedModels()).toBe(1);
  });

  it("a device this machine lacks falls back to the CPU with a warning from the model node", async () => {
    flow = await TestFlow.load([modelConfig({ device: process.platform === "darwin" ? "dml" : "coreml" }), segmentImageNode("seg", "out", { threshold: "0" }), sink("out")]);
    const warn = vi.spyOn(flow.model(), "warn");
    const msg = await flow.request("seg", { payload: scene, points: [{ x: 320, y: 240 }] }, "out");
    expect(msg.payload).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/unavailable, running on cpu/));
  });

  it("closes its sessions and engine on redeploy, well within Node-RED's close timeout, even mid-propagation", async () => {
    flow = await TestFlow.load([
      modelConfig(),
      loadNode("load", "loaded"),
      { id: "point", type: "sam3-point-prompt", name: "", model: "model", points: "12,42", box: "", objId: "1", frame: "", coordinates: "pixels", wires: [["pointed"]] },
      { id: "prop", type: "sam3-propagate", name: "", model: "model", direction: "forward", start: "", maxFrames: "", wires: [["frames"], ["summary"]] },
      ...["loaded", "pointed", "frames", "summary"].map(sink),
    ]);
    const session = (await flow.request("load", { payload: clips.long }, "loaded")).session;
    await flow.request("point", { session }, "pointed");
    flow.node("prop").receive({ session });
    await flow.inbox("frames").next({ failOn: flow.errors });
    const predictor = await flow.predictor();
    expect((await predictor.handleRequest({ type: "list_sessions" })).sessions).toHaveLength(1);
    const { ms } = await timed(() => flow!.unload());
    flow = undefined;
    console.log(`unload during a propagation: ${ms.toFixed(0)} ms (Node-RED allows ${NODE_RED_CLOSE_TIMEOUT_MS} ms)`);
    expect(ms).toBeLessThan(WELL_WITHIN_MS);
    expect(Sam3.loadedModels()).toBe(0);
    // the closed predictor has no sessions left
    expect((await predictor.handleRequest({ type: "list_sessions" })).sessions).toEqual([]);
    // let the interrupted propagation wind down: it must not take the runtime with it
    await new Promise((r) => setTimeout(r, 300));
  });

  it("20 deploy / message / redeploy cycles leave no engine loaded and resident memory flat", async () => {
    const nodes = () => [modelConfig(), segmentImageNode("seg", "out", { threshold: "0" }), loadNode("load", "loaded"), sink("out"), sink("loaded")];
    const cycle = async (i: number) => {
      const f = await TestFlow.load(nodes());
      const msg = i % 2 ? { payload: scene, points: [{ x: 40 + i * 20, y: 240 }] } : { payload: scene, text: `thing ${i}` };
      await f.request("seg", msg, "out");
      await f.request("load", { payload: clips.short }, "loaded");
      expect(Sam3.loadedModels()).toBe(1);
      const { ms } = await timed(() => f.unload());
      expect(Sam3.loadedModels()).toBe(0);
      return ms;
    };
    await cycle(0); // warm-up: first-use allocations of onnxruntime, sharp and ffmpeg are not a leak
    const before = rssMiB();
    const closeMs: number[] = [];
    const rss: number[] = [];
    for (let i = 1; i <= 20; i++) {
      closeMs.push(await cycle(i));
      rss.push(rssMiB());
    }
    const after = rssMiB();
    console.log(
      `20 cycles: RSS ${before.toFixed(0)} MiB -> ${after.toFixed(0)} MiB (growth ${(after - before).toFixed(0)} MiB, peak ${Math.max(...rss).toFixed(0)} MiB); ` +
        `unload max ${Math.max(...closeMs).toFixed(0)} ms`,
    );
    expect(after - before).toBeLessThan(150);
    expect(Math.max(...closeMs)).toBeLessThan(WELL_WITHIN_MS);
  }, 120_000);
});
