import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import type { FrameObjectJson } from "../../core/export/json";
import { cocoRleToMask } from "../../core/masks/rle";
import { maskArea } from "../../core/masks/mask";
import type { Sam3VideoPredictor } from "../../core/video/predictor";
import type { VideoPrompt } from "../../core/video/requests";
import { messagePaths, modelConfig, sink, TestFlow, type Msg } from "../support/node-red";
import { makeVideo, type SyntheticVideo } from "../support/synthetic-video";

const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 8, fps: 10 };
const dir = mkdtempSync(join(tmpdir(), "sam3-nodes-prompts-"));
let clip: string;

const textNode = (id: string, out: string, settings: Record<string, unknown> = {}) => ({ id, type: "sam3-text-prompt", name: "", model: "model", text: "", frame: "", wires: [[out]], ...settings });
const pointNode = (id: string, out: string, settings: Record<string, unknown> = {}) => ({
  id,
  type: "sam3-point-prompt",
  name: "",
  model: "model",
  points: "",
  box: "",
  objId: "",
  frame: "",
  coordinates: "pixels",
  wires: [[out]],
  ...settings,
});
const loadNode = (id: string, next: string) => ({ id, type: "sam3-load-video", name: "", model: "model", property: "", maxSide: "", stride: "", ...messagePaths(), wires: [[next]] });

const objectsOf = (msg: Msg) => msg.payload as FrameObjectJson[];

/** A frame's objects as the prompt nodes put them on msg.payload. */
function expectFrameObjects(msg: Msg, ids: number[]) {
  for (const o of objectsOf(msg)) {
    expect(Object.keys(o).filter((k) => k !== "label").sort()).toEqual(["area", "box", "box_xywh", "colour", "id", "rle", "score"]);
    expect(ids).toContain(o.id);
    expect(o.rle.size).toEqual([CLIP.height, CLIP.width]);
    expect(maskArea(cocoRleToMask(o.rle))).toBe(o.area);
    expect(o.area).toBeGreaterThan(0);
    for (const v of o.box_xywh) expect(v).toBeGreaterThanOrEqual(0);
    expect(o.box_xywh[0] + o.box_xywh[2]).toBeLessThanOrEqual(1);
    expect(o.box_xywh[1] + o.box_xywh[3]).toBeLessThanOrEqual(1);
  }
}

describe("sam3-text-prompt and sam3-point-prompt (compiled nodes, real engine)", () => {
  let flow: TestFlow;
  let predictor: Sam3VideoPredictor;
  let requests: MockInstance<(sessionId: string, prompt: VideoPrompt) => Promise<unknown>>;
  let session: { id: string; frames: number };

  /** The prompts the nodes gave the predictor since the last call, in the official add_prompt's shape. */
  const addPrompts = () => {
    const calls = requests.mock.calls.map(([session_id, p]) => ({
      type: "add_prompt",
      session_id,
      frame_index: p.frame,
      ...(p.text !== undefined ? { text: p.text } : {}),
      ...(p.objectId !== undefined ? { obj_id: p.objectId } : {}),
      ...(p.coordinates ? { coordinates: p.coordinates } : {}),
      ...(p.points?.length ? { points: p.points.map((q) => [q.x, q.y]), point_labels: p.points.map((q) => (q.positive === false ? 0 : 1)) } : {}),
      ...(p.boxes?.length ? { bounding_boxes: p.boxes.map(({ box: [x1, y1, x2, y2] }) => [x1, y1, x2 - x1, y2 - y1]) } : {}),
    }));
    requests.mockClear();
    return calls;
  };

  beforeAll(async () => {
    clip = await makeVideo(join(dir, "clip.mp4"), CLIP);
    flow = await TestFlow.load([
      modelConfig(),
      loadNode("load", "loaded"),
      loadNode("loadThenText", "textThing"),
      textNode("text", "outText"),
      textNode("textThing", "outTextThing", { text: "thing", frame: "2" }),
      pointNode("point", "outPoint"),
      pointNode("pointConfigured", "outPointConfigured", { points: "80,60; 12,42:neg", objId: "5", frame: "1" }),
      pointNode("pointRelative", "outPointRelative", { coordinates: "relative" }),
      ...["loaded", "outText", "outTextThing", "outPoint", "outPointConfigured", "outPointRelative"].map(sink),
    ]);
    predictor = await flow.predictor();
  });
  beforeEach(async () => {
    session = (await flow.request("load", { payload: clip }, "loaded")).session as { id: string; frames: number };
    requests = vi.spyOn(predictor, "addPrompt");
  });
  afterEach(async () => {
    requests.mockRestore();
    await flow.closeSessions();
  });
  afterAll(async () => {
    await flow.unload();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("sam3-text-prompt", () => {
    it("chained after sam3-load-video: the node's text on the node's frame; msg.payload that frame's objects, msg.frame its index", async () => {
      const msg = await flow.request("loadThenText", { payload: clip, topic: "kept" }, "outTextThing");
      const { id } = msg.session as { id: string };
      expect(addPrompts()).toEqual([{ type: "add_prompt", session_id: id, frame_index: 2, text: "thing" }]);
      expect(msg.frame).toBe(2);
      expect(Array.isArray(msg.payload)).toBe(true);
      expectFrameObjects(msg, await predictor.handleRequest({ type: "get_session", session_id: id }).then((s) => s.object_ids));
      expect(msg.topic).toBe("kept");
      expect(flow.lastStatus("textThing")).toEqual({ fill: "green", shape: "dot", text: `${objectsOf(msg).length} found on frame 2` });
      // the session now has a concept: propagation has something to track
      const frames = [];
      for await (const f of predictor.handleStreamRequest({ type: "propagate_in_video", session_id: id, propagation_direction: "forward", max_frame_num_to_track: 1 })) frames.push(f.frame_index);
      expect(frames).toEqual([2, 3]);
    });

    it("msg.text and msg.frame override the node's; msg.session may be the id alone; several concepts as a list", async () => {
      const own = await flow.request("textThing", { session: session.id, text: "dog", frame: 5 }, "outTextThing");
      expect(own.frame).toBe(5);
      const list = await flow.request("text", { session, text: ["dog", "cat"], frame: "7" }, "outText");
      expect(list.frame).toBe(7);
      const defaults = await flow.request("text", { session, text: "cat" }, "outText");
      expect(defaults.frame).toBe(0);
      expect(addPrompts()).toEqual([
        { type: "add_prompt", session_id: session.id, frame_index: 5, text: "dog" },
        { type: "add_prompt", session_id: session.id, frame_index: 7, text: ["dog", "cat"] },
        { type: "add_prompt", session_id: session.id, frame_index: 0, text: "cat" },
      ]);
    });

    describe("errors: done(err) to a catch node, a red ring, no output", () => {
      it("missing msg.session", async () => {
        const error = await flow.failure("textThing", { payload: "no session here" }, ["outTextThing"]);
        expect(error.message).toMatch(/msg\.session is missing/);
        expect(flow.lastStatus("textThing")).toEqual({ fill: "red", shape: "ring", text: "bad request" });
      });

      it("an unknown session id", async () => {
        const error = await flow.failure("textThing", { session: { id: "no-such-session" } }, ["outTextThing"]);
        expect(error.code).toBe("UNKNOWN_SESSION");
        expect(flow.lastStatus("textThing")).toEqual({ fill: "red", shape: "ring", text: "unknown session" });
      });

      it("a frame out of range", async () => {
        const after = await flow.failure("textThing", { session, frame: 8 }, ["outTextThing"]);
        expect(after.code).toBe("BAD_REQUEST");
        expect(after.message).toMatch(/frame_index 8 is out of range: the video has frames 0\.\.7/);
        const negative = await flow.failure("textThing", { session, frame: -1 }, ["outTextThing"]);
        expect(negative.code).toBe("BAD_REQUEST");
        const text = await flow.failure("textThing", { session, frame: "first" }, ["outTextThing"]);
        expect(text.message).toMatch(/frame must be a number/);
      });

      it("no prompt", async () => {
        const none = await flow.failure("text", { session }, ["outText"]);
        expect(none.message).toMatch(/no text prompt/);
        const blank = await flow.failure("textThing", { session, text: "  " }, ["outTextThing"]);
        expect(blank.message).toMatch(/no text prompt/);
      });

      it("the node still works after its failures", async () => {
        const msg = await flow.request("textThing", { session }, "outTextThing");
        expect(msg.frame).toBe(2);
        expect(flow.lastStatus("textThing")).toMatchObject({ fill: "green" });
      });
    });
  });

  describe("sam3-point-prompt", () => {
    it("adds an object by a click (pixels): msg.payload that frame's objects, msg.frame its index", async () => {
      const msg = await flow.request("point", { session, points: [[80, 60]], objId: 3, topic: "kept" }, "outPoint");
      expect(addPrompts()).toEqual([{ type: "add_prompt", session_id: session.id, frame_index: 0, obj_id: 3, coordinates: "pixels", points: [[80, 60]], point_labels: [1] }]);
      expect(msg.frame).toBe(0);
      expect(msg.topic).toBe("kept");
      expectFrameObjects(msg, [3]);
      expect(flow.lastStatus("point")).toEqual({ fill: "green", shape: "dot", text: "object 3 on frame 0" });
      const second = await flow.request("point", { session, points: [{ x: 40, y: 100 }], objId: 4 }, "outPoint");
      expectFrameObjects(second, [3, 4]);
      // the first object is still there beside the second (disjoint masks, one entry per id at most)
      expect(new Set(objectsOf(second).map((o) => o.id)).size).toBe(objectsOf(second).length);
      expect(await predictor.handleRequest({ type: "get_session", session_id: session.id })).toMatchObject({ object_ids: [3, 4] });
    });

    it("the node's points, object id and frame apply; msg.points / msg.objId / msg.frame override them", async () => {
      const configured = await flow.request("pointConfigured", { session }, "outPointConfigured");
      expect(configured.frame).toBe(1);
      const overridden = await flow.request("pointConfigured", { session, points: [{ x: 10, y: 10, positive: false }, [20, 30]], objId: 6, frame: 4 }, "outPointConfigured");
      expect(overridden.frame).toBe(4);
      expect(addPrompts()).toEqual([
        { type: "add_prompt", session_id: session.id, frame_index: 1, obj_id: 5, coordinates: "pixels", points: [[80, 60], [12, 42]], point_labels: [1, 0] },
        { type: "add_prompt", session_id: session.id, frame_index: 4, obj_id: 6, coordinates: "pixels", points: [[10, 10], [20, 30]], point_labels: [0, 1] },
      ]);
      expect(await predictor.handleRequest({ type: "get_session", session_id: session.id })).toMatchObject({ object_ids: [5, 6] });
    });

    it("msg.box: one box [x1, y1, x2, y2], alone or with points, as the predictor's [x, y, w, h]", async () => {
      await flow.request("point", { session, box: [10, 20, 50, 70], objId: 1 }, "outPoint");
      await flow.request("point", { session, box: "90,0,130,30", points: "108,12", objId: 2, frame: 1 }, "outPoint");
      expect(addPrompts()).toEqual([
        { type: "add_prompt", session_id: session.id, frame_index: 0, obj_id: 1, coordinates: "pixels", bounding_boxes: [[10, 20, 40, 50]] },
        { type: "add_prompt", session_id: session.id, frame_index: 1, obj_id: 2, coordinates: "pixels", points: [[108, 12]], point_labels: [1], bounding_boxes: [[90, 0, 40, 30]] },
      ]);
    });

    it("msg.coordinates relative: 0..1 of the frame, the same object as the same click in pixels", async () => {
      const pixels = await flow.request("point", { session, points: [[80, 60]], box: [40, 30, 120, 90], objId: 1 }, "outPoint");
      const other = (await flow.request("load", { payload: clip }, "loaded")).session as { id: string };
      const relative = await flow.request("point", { session: other, points: [[0.5, 0.5]], box: [0.25, 0.25, 0.75, 0.75], objId: 1, coordinates: "relative" }, "outPoint");
      const configured = await flow.request("pointRelative", { session: other, points: [[0.5, 0.5]], objId: 2 }, "outPointRelative");
      const [, relativeRequest, configuredRequest] = addPrompts();
      expect(relativeRequest).toMatchObject({ coordinates: "relative", points: [[0.5, 0.5]], bounding_boxes: [[0.25, 0.25, 0.5, 0.5]] });
      expect(configuredRequest).toMatchObject({ coordinates: "relative", obj_id: 2 });
      expect(objectsOf(relative)).toEqual(objectsOf(pixels));
      expectFrameObjects(configured, [1, 2]);
    });

    describe("errors: done(err) to a catch node, a red ring, no output", () => {
      it("missing msg.session", async () => {
        const error = await flow.failure("point", { points: [[80, 60]], objId: 1 }, ["outPoint"]);
        expect(error.message).toMatch(/msg\.session is missing/);
        expect(flow.lastStatus("point")).toEqual({ fill: "red", shape: "ring", text: "bad request" });
      });

      it("an unknown session id", async () => {
        const error = await flow.failure("point", { session: "no-such-session", points: [[80, 60]], objId: 1 }, ["outPoint"]);
        expect(error.code).toBe("UNKNOWN_SESSION");
        expect(flow.lastStatus("point")).toEqual({ fill: "red", shape: "ring", text: "unknown session" });
      });

      it("a frame out of range", async () => {
        const error = await flow.failure("point", { session, points: [[80, 60]], objId: 1, frame: 99 }, ["outPoint"]);
        expect(error.code).toBe("BAD_REQUEST");
        expect(error.message).toMatch(/frame_index 99 is out of range/);
        expect(flow.lastStatus("point")).toEqual({ fill: "red", shape: "ring", text: "bad request" });
      });

      it("no prompt, no object id, two boxes", async () => {
        const none = await flow.failure("point", { session, objId: 1 }, ["outPoint"]);
        expect(none.message).toMatch(/no prompt/);
        const noId = await flow.failure("point", { session, points: [[80, 60]] }, ["outPoint"]);
        expect(noId.message).toMatch(/no object id/);
        const twoBoxes = await flow.failure("point", { session, box: [[0, 0, 10, 10], [20, 20, 30, 30]], objId: 1 }, ["outPoint"]);
        expect(twoBoxes.message).toMatch(/one box per object/);
        const badPoint = await flow.failure("point", { session, points: [["a", 2]], objId: 1 }, ["outPoint"]);
        expect(badPoint.message).toMatch(/a point needs finite numbers x and y/);
      });

      it("relative coordinates outside 0..1", async () => {
        const configured = await flow.failure("pointRelative", { session, points: [[80, 60]], objId: 1 }, ["outPointRelative"]);
        expect(configured.code).toBe("BAD_PROMPT");
        expect(configured.message).toMatch(/relative coordinates must be within 0\.\.1/);
        const override = await flow.failure("point", { session, points: [[0.5, 1.5]], objId: 1, coordinates: "relative" }, ["outPoint"]);
        expect(override.code).toBe("BAD_PROMPT");
        expect(flow.lastStatus("point")).toEqual({ fill: "red", shape: "ring", text: "bad prompt" });
      });

      it("the node still works after its failures", async () => {
        const msg = await flow.request("point", { session, points: [[80, 60]], objId: 7 }, "outPoint");
        expectFrameObjects(msg, [7]);
        expect(flow.lastStatus("point")).toEqual({ fill: "green", shape: "dot", text: "object 7 on frame 0" });
        expect(flow.errors.pending).toBe(0);
      });
    });
  });
});
