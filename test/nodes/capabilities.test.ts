import { readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { distSam3, modelConfig, segmentImageNode, sink, TestFlow } from "../support/node-red";
import { SCENE } from "../support/reference";
import { NO_TEXT, TRACKER_ONLY_CAN, trackerOnlyPack } from "../support/tracker-pack";

const scene = readFileSync(SCENE);
const pack = trackerOnlyPack();
let flow: TestFlow;


beforeAll(async () => {
  flow = await TestFlow.load([modelConfig({ model: pack }), segmentImageNode("seg", "out"), segmentImageNode("idle", "idleOut"), sink("out"), sink("idleOut")]);
});

afterAll(async () => {
  await flow?.unload();
  expect(distSam3.Sam3.loadedModels()).toBe(0);
  rmSync(pack, { recursive: true, force: true });
});

describe("nodes on a pack that can only track (compiled nodes, real engine)", () => {
  it("show what the pack can do once it has loaded: the node that loaded it and every other node using it", async () => {
    const msg = await flow.request("seg", { payload: scene, points: [{ x: 320, y: 240 }] }, "out");
    expect(msg.payload).toHaveLength(1);
    const ready = { fill: "green", shape: "ring", text: `ready: ${TRACKER_ONLY_CAN}` };
    expect(flow.statuses("seg")).toContainEqual(ready);
    // a node that never ran shows it until it does
    expect(flow.lastStatus("idle")).toEqual(ready);
    expect(ready.text).not.toContain("text prompts");
    flow.expectNoErrors();
  });

  it("a text prompt fails with MISSING_CAPABILITY: the reason in red under the node, the code on msg.error", async () => {
    const error = await flow.failure("seg", { payload: scene, text: "dog" }, ["out"]);
    expect(error.code).toBe("MISSING_CAPABILITY");
    expect(error.message).toMatch(NO_TEXT);
    expect(error.message).toMatch(/the preset \S+ has it$/);
    // the catch node's copy starts "Sam3Error: "; the status is the message itself
    const status = flow.lastStatus("seg") as { text: string };
    expect(status).toEqual({ fill: "red", shape: "ring", text: expect.stringMatching(NO_TEXT) });
    expect(error.message).toBe(`Sam3Error: ${status.text}`);
  });
});
