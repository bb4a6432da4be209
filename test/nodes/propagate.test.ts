import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FrameObjectJson } from "../../core/export/json";
import { cocoRleToMask } from "../../core/masks/rle";
import { maskArea } from "../../core/masks/mask";
import { messagePaths, modelConfig, sink, SPLIT_JOIN, TestFlow, type Msg } from "../support/node-red";
import { makeVideo, squares, type SyntheticVideo } from "../support/synthetic-video";

const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 8, fps: 10 };
/** Long enough that a stop arrives while it is still propagating. */
const LONG: SyntheticVideo = { width: 160, height: 120, frames: 48, fps: 24 };
const dir = mkdtempSync(join(tmpdir(), "sam3-nodes-propagate-"));
const clips: Record<"short" | "long", string> = { short: "", long: "" };

interface Summary {
  frames: number;
  total: number;
  cancelled: boolean;
  fps: number;
  objects: number[];
}

interface Parts {
  id: string;
  index: number;
  count?: number;
  type: string;
  len: number;
}

const propagateNode = (id: string, frames: string[], summary: string, settings: Record<string, unknown> = {}) => ({
  id,
  type: "sam3-propagate",
  name: "",
  model: "model",
  direction: "both",
  start: "",
  maxFrames: "",
  wires: [frames, [summary]],
  ...settings,
});

const objectsOf = (msg: Msg) => msg.payload as FrameObjectJson[];
const partsOf = (msg: Msg) => msg.parts as unknown as Parts;
const centre = (video: SyntheticVideo, t: number, which: "red" | "blue") => {
  const [x1, y1, x2, y2] = squares(video, t)[which];
  return [(x1 + x2) / 2, (y1 + y2) / 2];
};

describe("sam3-propagate (compiled node, real engine)", () => {
  let flow: TestFlow;

  beforeAll(async () => {
    clips.short = await makeVideo(join(dir, "short.mp4"), CLIP);
    clips.long = await makeVideo(join(dir, "long.mp4"), LONG);
    flow = await TestFlow.load(
      [
        modelConfig(),
        { id: "load", type: "sam3-load-video", name: "", model: "model", property: "", maxSide: "", stride: "", ...messagePaths(), wires: [["loaded"]] },
        { id: "point", type: "sam3-point-prompt", name: "", model: "model", points: "", box: "", objId: "", frame: "", coordinates: "pixels", wires: [["pointed"]] },
        propagateNode("prop", ["frames", "joiner"], "summary"),
        { id: "joiner", type: "join", name: "", mode: "auto", build: "object", property: "payload", propertyType: "msg", key: "topic", joiner: "\\n", joinerType: "str", accumulate: false, timeout: "", count: "", reduceRight: false, wires: [["joined"]] },
        propagateNode("propConfigured", ["framesConfigured"], "summaryConfigured", { direction: "backward", start: "5", maxFrames: "2" }),
        ...["loaded", "pointed", "frames", "joined", "summary", "framesConfigured", "summaryConfigured"].map(sink),
      ],
      [SPLIT_JOIN],
    );
  });
  afterEach(async () => {
    await flow.closeSessions();
    flow.expectNoErrors();
  });
  afterAll(async () => {
    await flow.unload();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A session on a clip with the red square (object 1) and the blue one (object 2) clicked on `frame`. */
  async function prompted(which: "short" | "long", frame = 0) {
    const video = which === "short" ? CLIP : LONG;
    const session = (await flow.request("load", { payload: clips[which] }, "loaded")).session as { id: string };
    await flow.request("point", { session, points: [centre(video, frame, "red")], objId: 1, frame }, "pointed");
    await flow.request("point", { session, points: [centre(video, frame, "blue")], objId: 2, frame }, "pointed");
    return session;
  }

  /** Runs a propagation to its summary; returns the frame messages in arrival order. */
  async function propagate(node: string, msg: Record<string, unknown>, outs = { frames: "frames", summary: "summary" }) {
    const summaryMsg = flow.inbox(outs.summary).next({ failOn: flow.errors });
    flow.node(node).receive(msg);
    const summary = await summaryMsg;
    const frames = flow.inbox(outs.frames).drain();
    return { frames, summary, payload: summary.payload as Summary };
  }

  it("sends one message per frame on output 1, numbered by msg.parts, then the summary on output 2", async () => {
    const session = await prompted("short");
    const { frames, summary, payload } = await propagate("prop", { session, topic: "kept" });
    expect(frames.map((m) => m.frame)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const parts = frames.map(partsOf);
    expect(new Set(parts.map((p) => p.id)).size).toBe(1);
    expect(typeof parts[0].id).toBe("string");
    expect(parts.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(parts.every((p) => p.type === "array" && p.len === 1)).toBe(true);
    // only the last part says how many there are, as the split node does for streams
    expect(parts.map((p) => p.count)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined, 8]);
    const seen = new Set<number>();
    for (const m of frames) {
      expect(m.topic).toBe("kept");
      expect((m.session as { id: string }).id).toBe(session.id);
      for (const o of objectsOf(m)) {
        seen.add(o.id);
        expect([1, 2]).toContain(o.id);
        expect(o.rle.size).toEqual([CLIP.height, CLIP.width]);
        expect(maskArea(cocoRleToMask(o.rle))).toBe(o.area);
      }
    }
    // random weights put the tracker's object score near 0.5: an object may be missing on some frames, not on all
    expect(seen.size).toBeGreaterThan(0);
    expect(payload).toEqual({ frames: 8, total: 8, cancelled: false, fps: expect.any(Number), objects: [...seen].sort((a, b) => a - b) });
    expect(payload.fps).toBeGreaterThan(0);
    expect(summary.topic).toBe("kept");
    expect(summary).not.toHaveProperty("parts");
    expect(flow.lastStatus("prop")).toEqual({ fill: "green", shape: "dot", text: `8 frames, ${seen.size} objects` });
    // a core join node in automatic mode rebuilds the sequence: an array of the 8 frames' payloads, in order
    const joined = await flow.inbox("joined").next();
    expect(joined.payload).toEqual(frames.map((m) => m.payload));
    expect(flow.inbox("joined").pending).toBe(0);
  });

  it("starts where the objects were prompted and goes both ways by default", async () => {
    const session = await prompted("short", 3);
    const { frames, payload } = await propagate("prop", { session });
    expect(frames.map((m) => m.frame)).toEqual([3, 4, 5, 6, 7, 2, 1, 0]);
    expect(frames.map((m) => partsOf(m).index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(payload).toMatchObject({ frames: 8, total: 8, cancelled: false });
    expect((await flow.inbox("joined").next()).payload).toHaveLength(8);
  });

  it("msg.direction, msg.start and msg.maxFrames choose the frames", async () => {
    const session = await prompted("short");
    const cases: [Record<string, unknown>, number[]][] = [
      [{ direction: "forward", start: 3 }, [3, 4, 5, 6, 7]],
      [{ direction: "backward", start: 3 }, [3, 2, 1, 0]],
      [{ direction: "both", start: 4, maxFrames: 1 }, [4, 5, 3]],
      [{ direction: "forward", start: "6", maxFrames: "5" }, [6, 7]],
    ];
    for (const [overrides, expected] of cases) {
      const { frames, payload } = await propagate("prop", { session, ...overrides });
      expect(frames.map((m) => m.frame), JSON.stringify(overrides)).toEqual(expected);
      expect(frames.map((m) => partsOf(m).count)).toEqual(expected.map((_, i) => (i === expected.length - 1 ? expected.length : undefined)));
      expect(payload).toMatchObject({ frames: expected.length, total: expected.length, cancelled: false });
      expect((await flow.inbox("joined").next()).payload).toHaveLength(expected.length);
    }
  });

  it("the node's direction, start and max frames apply unless the message overrides them", async () => {
    const session = await prompted("short");
    const outs = { frames: "framesConfigured", summary: "summaryConfigured" };
    const cases: [Record<string, unknown>, number[]][] = [
      [{}, [5, 4, 3]],
      [{ direction: "forward" }, [5, 6, 7]],
      [{ start: 1 }, [1, 0]],
      [{ maxFrames: 0 }, [5]],
    ];
    for (const [overrides, expected] of cases) {
      const { frames, payload } = await propagate("propConfigured", { session, ...overrides }, outs);
      expect(frames.map((m) => m.frame), JSON.stringify(overrides)).toEqual(expected);
      expect(payload).toMatchObject({ frames: expected.length, cancelled: false });
    }
  });

  it("msg.stop while it runs cancels: the summary says cancelled, after fewer frames than the video has", async () => {
    const session = await prompted("long");
    const summaryMsg = flow.inbox("summary").next({ failOn: flow.errors });
    flow.node("prop").receive({ session });
    await flow.inbox("frames").next({ failOn: flow.errors });
    flow.node("prop").receive({ session, stop: true });
    const payload = (await summaryMsg).payload as Summary;
    const frames = flow.inbox("frames").drain().length + 1;
    expect(payload.cancelled).toBe(true);
    expect(payload.frames).toBe(frames);
    expect(payload.frames).toBeLessThan(LONG.frames);
    expect(payload.total).toBe(LONG.frames);
    // the last frame sent carries the count, so a join completes with the frames that were tracked
    expect((await flow.inbox("joined").next()).payload).toHaveLength(frames);
    expect(flow.statuses("prop")).toContainEqual({ fill: "grey", shape: "ring", text: "cancelling" });
    expect(flow.lastStatus("prop")).toEqual({ fill: "grey", shape: "dot", text: expect.stringMatching(new RegExp(`^cancelled after ${frames} frames, \\d+ objects$`)) });
    // the stop message itself sends nothing, on either output
    await new Promise((r) => setTimeout(r, 50));
    expect(flow.inbox("summary").pending).toBe(0);
    expect(flow.inbox("frames").pending).toBe(0);
    // with nothing running, a stop just says so
    flow.node("prop").receive({ session, stop: true });
    await expect.poll(() => flow.lastStatus("prop")).toEqual({ fill: "grey", shape: "ring", text: "nothing to cancel" });
    // and the session can propagate again, to the end
    const again = await propagate("prop", { session, maxFrames: 3, direction: "forward" });
    expect(again.payload).toMatchObject({ frames: 4, cancelled: false });
    // the new run completes a join of its own
    expect((await flow.inbox("joined").next()).payload).toEqual(again.frames.map((m) => m.payload));
  });

  describe("errors: done(err) to a catch node, a red ring, no output", () => {
    it("no prompt yet", async () => {
      const session = (await flow.request("load", { payload: clips.short }, "loaded")).session;
      const error = await flow.failure("prop", { session }, ["frames", "summary"]);
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toMatch(/nothing to propagate: add a prompt first/);
      expect(flow.lastStatus("prop")).toEqual({ fill: "red", shape: "ring", text: "bad request" });
    });

    it("an unknown session, or none", async () => {
      const unknown = await flow.failure("prop", { session: { id: "no-such-session" } }, ["frames", "summary"]);
      expect(unknown.code).toBe("UNKNOWN_SESSION");
      expect(flow.lastStatus("prop")).toEqual({ fill: "red", shape: "ring", text: "unknown session" });
      const stopUnknown = await flow.failure("prop", { session: "no-such-session", stop: true }, ["frames", "summary"]);
      expect(stopUnknown.code).toBe("UNKNOWN_SESSION");
      const missing = await flow.failure("prop", { payload: 1 }, ["frames", "summary"]);
      expect(missing.message).toMatch(/msg\.session is missing/);
    });

    it("bad direction, start or max frames", async () => {
      const session = await prompted("short");
      const direction = await flow.failure("prop", { session, direction: "sideways" }, ["frames", "summary"]);
      expect(direction.message).toMatch(/direction must be both, forward or backward/);
      const start = await flow.failure("prop", { session, start: 99 }, ["frames", "summary"]);
      expect(start.code).toBe("BAD_REQUEST");
      expect(start.message).toMatch(/out of range/);
      const maxFrames = await flow.failure("prop", { session, maxFrames: "many" }, ["frames", "summary"]);
      expect(maxFrames.message).toMatch(/maxFrames must be a number/);
    });

    it("a second propagation of a session while the first runs", async () => {
      const session = await prompted("long");
      const summaryMsg = flow.inbox("summary").next();
      flow.node("prop").receive({ session });
      await flow.inbox("frames").next({ failOn: flow.errors });
      const error = await flow.failure("prop", { session });
      expect(error.message).toMatch(/is propagating/);
      flow.node("prop").receive({ session, stop: true });
      expect(((await summaryMsg).payload as Summary).cancelled).toBe(true);
      flow.inbox("frames").drain();
      // the cancelled run's partial sequence still completes its join
      await flow.inbox("joined").next();
    });

    it("the node still works after its failures", async () => {
      const session = await prompted("short");
      const { payload } = await propagate("prop", { session });
      expect(payload).toMatchObject({ frames: 8, cancelled: false });
      expect((await flow.inbox("joined").next()).payload).toHaveLength(8);
    });
  });
});
