import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Sam3VideoPredictor } from "../../core/video/predictor";
import { messagePaths, modelConfig, sink, TestFlow } from "../support/node-red";
import { makeVideo, type SyntheticVideo } from "../support/synthetic-video";

const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 8, fps: 10 };
const dir = mkdtempSync(join(tmpdir(), "sam3-nodes-remove-"));
let clip: string;

const removeNode = (id: string, out: string, objIds: string) => ({ id, type: "sam3-remove-object", name: "", model: "model", objIds, wires: [[out]] });
/** Four objects clicked on frame 0: object n at a different place each. */
const CLICKS: [number, [number, number]][] = [
  [1, [12, 42]],
  [2, [108, 12]],
  [3, [80, 60]],
  [4, [40, 100]],
];

describe("sam3-remove-object (compiled node, real engine)", () => {
  let flow: TestFlow;
  let predictor: Sam3VideoPredictor;
  let session: { id: string };

  /** Which objects have a mask on any frame, per the session's stored results. */
  const idsOnFrames = () => {
    return new Set(Array.from({ length: CLIP.frames }, (_, t) => predictor.frame(session.id, t).objects.map((o) => o.id)).flat());
  };
  const objectIds = async () => (await predictor.handleRequest({ type: "get_session", session_id: session.id })).object_ids;

  beforeAll(async () => {
    clip = await makeVideo(join(dir, "clip.mp4"), CLIP);
    flow = await TestFlow.load([
      modelConfig(),
      { id: "load", type: "sam3-load-video", name: "", model: "model", property: "", maxSide: "", stride: "", ...messagePaths(), wires: [["loaded"]] },
      { id: "point", type: "sam3-point-prompt", name: "", model: "model", points: "", box: "", objId: "", frame: "", coordinates: "pixels", wires: [["pointed"]] },
      { id: "prop", type: "sam3-propagate", name: "", model: "model", direction: "forward", start: "", maxFrames: "", wires: [[], ["propagated"]] },
      removeNode("remove2", "out", "2"),
      removeNode("removeList", "outList", " 1, 3 "),
      removeNode("removeNone", "outNone", ""),
      ...["loaded", "pointed", "propagated", "out", "outList", "outNone"].map(sink),
    ]);
    predictor = await flow.predictor();
  });
  beforeEach(async () => {
    session = (await flow.request("load", { payload: clip }, "loaded")).session as { id: string };
    for (const [objId, point] of CLICKS) await flow.request("point", { session, points: [point], objId }, "pointed");
    await flow.request("prop", { session }, "propagated");
  });
  afterEach(async () => {
    await flow.closeSessions();
    flow.expectNoErrors();
  });
  afterAll(async () => {
    await flow.unload();
    rmSync(dir, { recursive: true, force: true });
  });

  it("removes the node's object ids from the session, from every frame: payload {removed, objects}", async () => {
    expect(await objectIds()).toEqual([1, 2, 3, 4]);
    const msg = await flow.request("remove2", { session, topic: "kept" }, "out");
    expect(msg.payload).toEqual({ removed: [2], objects: [1, 3, 4] });
    expect(msg.topic).toBe("kept");
    expect((msg.session as { id: string }).id).toBe(session.id);
    expect(await objectIds()).toEqual([1, 3, 4]);
    expect(idsOnFrames().has(2)).toBe(false);
    expect(flow.lastStatus("remove2")).toEqual({ fill: "green", shape: "dot", text: "removed 2" });
    // a list in the node's settings: "1, 3" (at least one of them has masks to lose)
    expect([1, 3].some((id) => idsOnFrames().has(id))).toBe(true);
    const list = await flow.request("removeList", { session: session.id }, "outList");
    expect(list.payload).toEqual({ removed: [1, 3], objects: [4] });
    expect([...idsOnFrames()].every((id) => id === 4)).toBe(true);
  });

  it("msg.objIds (a list, a number or text) and msg.objId override the node's ids", async () => {
    const frames = idsOnFrames();
    const list = await flow.request("remove2", { session, objIds: [3] }, "out");
    expect(list.payload).toEqual({ removed: [3], objects: [1, 2, 4] });
    const number = await flow.request("remove2", { session, objIds: 4 }, "out");
    expect(number.payload).toEqual({ removed: [4], objects: [1, 2] });
    const one = await flow.request("removeNone", { session, objId: 1 }, "outNone");
    expect(one.payload).toEqual({ removed: [1], objects: [2] });
    expect(await objectIds()).toEqual([2]);
    expect([...idsOnFrames()]).toEqual([...frames].filter((id) => id === 2));
    const text = await flow.request("removeNone", { session, objIds: "2, 2" }, "outNone");
    expect(text.payload).toEqual({ removed: [2], objects: [] });
  });

  describe("errors: done(err) to a catch node, a red ring, no output", () => {
    it("an unknown object id, and one already removed", async () => {
      const unknown = await flow.failure("remove2", { session, objIds: [9] }, ["out"]);
      expect(unknown.code).toBe("UNKNOWN_OBJECT");
      expect(unknown.message).toMatch(/has no object 9 \(objects: 1, 2, 3, 4\)/);
      expect(flow.lastStatus("remove2")).toEqual({ fill: "red", shape: "ring", text: "unknown object" });
      await flow.request("remove2", { session }, "out");
      const again = await flow.failure("remove2", { session }, ["out"]);
      expect(again.code).toBe("UNKNOWN_OBJECT");
      expect(await objectIds()).toEqual([1, 3, 4]);
      // one unknown id among known ones: nothing is removed
      const mixed = await flow.failure("remove2", { session, objIds: [1, 9, 4] }, ["out"]);
      expect(mixed.code).toBe("UNKNOWN_OBJECT");
      expect(mixed.message).toMatch(/has no object 9 \(objects: 1, 3, 4\)/);
      expect(await objectIds()).toEqual([1, 3, 4]);
    });

    it("no ids, or ids that are not integers", async () => {
      const none = await flow.failure("removeNone", { session }, ["outNone"]);
      expect(none.message).toMatch(/no object ids/);
      const text = await flow.failure("removeNone", { session, objIds: "two" }, ["outNone"]);
      expect(text.message).toMatch(/no object ids/);
      const fraction = await flow.failure("removeNone", { session, objIds: [1.5] }, ["outNone"]);
      expect(fraction.message).toMatch(/no object ids/);
      expect(await objectIds()).toEqual([1, 2, 3, 4]);
    });

    it("a missing or unknown session", async () => {
      const missing = await flow.failure("remove2", {}, ["out"]);
      expect(missing.message).toMatch(/msg\.session is missing/);
      const unknown = await flow.failure("remove2", { session: "no-such-session" }, ["out"]);
      expect(unknown.code).toBe("UNKNOWN_SESSION");
      expect(flow.lastStatus("remove2")).toEqual({ fill: "red", shape: "ring", text: "unknown session" });
    });
  });
});
