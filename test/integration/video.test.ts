import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MaskPromptTracker, type VideoTracker } from "../../core/video/object-tracker";
import type { FrameResult } from "../../core/video/official";
import { Sam3VideoPredictor } from "../../core/video/predictor";
import { rejection } from "../support/errors";
import { SCENE } from "../support/reference";
import { makeVideo, squares, type SyntheticVideo } from "../support/synthetic-video";

const dir = mkdtempSync(join(tmpdir(), "sam3-video-"));
const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 12, fps: 10 };
let clip: string;

beforeAll(async () => {
  clip = await makeVideo(join(dir, "clip.mp4"), CLIP);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(stream: AsyncIterable<FrameResult>): Promise<FrameResult[]> {
  const out: FrameResult[] = [];
  for await (const frame of stream) out.push(frame);
  return out;
}

/** Relative centre of a square on frame t. */
const centre = (t: number, which: "red" | "blue", video = CLIP): [number, number] => {
  const [x1, y1, x2, y2] = squares(video, t)[which];
  return [(x1 + x2) / 2 / video.width, (y1 + y2) / 2 / video.height];
};

/** Counts the tracker calls per kind (the real tracker does the work). */
class CountingTracker implements VideoTracker {
  prompts = 0;
  steps = 0;
  readonly kind;
  constructor(private readonly inner: VideoTracker) {
    this.kind = inner.kind;
  }
  frame(...args: Parameters<VideoTracker["frame"]>) {
    return this.inner.frame(...args);
  }
  prompt(...args: Parameters<VideoTracker["prompt"]>) {
    this.prompts++;
    return this.inner.prompt(...args);
  }
  track(...args: Parameters<VideoTracker["track"]>) {
    this.steps++;
    return this.inner.track(...args);
  }
  fromMask(...args: Parameters<VideoTracker["fromMask"]>) {
    this.prompts++;
    return this.inner.fromMask(...args);
  }
  remember(...args: Parameters<VideoTracker["remember"]>) {
    return this.inner.remember(...args);
  }
  promote(id: number, t: number) {
    this.inner.promote(id, t);
  }
  forget(id: number) {
    this.inner.forget(id);
  }
  reset() {
    this.inner.reset();
  }
  bytes() {
    return this.inner.bytes();
  }
}

describe("video predictor: sessions, prompts, propagation", () => {
  let predictor: Sam3VideoPredictor;
  let tracker: CountingTracker;
  beforeAll(async () => {
    // random weights put the object score near 0.5 either side: count every mask as visible
    predictor = await Sam3VideoPredictor.open({
      rules: { presenceThreshold: 0 },
      makeTracker: (sam, rules) => (tracker = new CountingTracker(new MaskPromptTracker(sam, rules.presenceThreshold))),
    });
  });
  afterAll(() => predictor.close());

  async function twoObjects(session_id: string) {
    await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [centre(0, "red")], point_labels: [1] });
    return predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 2, points: [centre(0, "blue")], point_labels: [1] });
  }

  it("starts a session with the video's facts and the decoder it uses", async () => {
    const info = await predictor.handleRequest({ type: "start_session", resource_path: clip, session_id: "facts" });
    expect(info).toMatchObject({ session_id: "facts", frames: 12, width: 160, height: 120, fps: 10, kind: "video", tracker: "mask prompts", object_ids: [] });
    expect(info.decoder).toMatch(/ffmpeg/);
    await predictor.handleRequest({ type: "close_session", session_id: "facts" });
  });

  it("adds objects by clicks and returns that frame's disjoint masks at the video's size", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    const { frame_index, outputs } = await twoObjects(session_id);
    expect(frame_index).toBe(0);
    expect(outputs.out_obj_ids).toEqual([1, 2]);
    expect(outputs.out_binary_masks.map((m) => [m.width, m.height])).toEqual([[160, 120], [160, 120]]);
    const [a, b] = outputs.out_binary_masks;
    expect(a.data.some((v, i) => v && b.data[i])).toBe(false);
    outputs.out_boxes_xywh.flat().forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
    await predictor.handleRequest({ type: "close_session", session_id });
  });

  it("propagates forward, backward and both ways, honouring start and max frames", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    await twoObjects(session_id);
    const order = async (request: object) =>
      (await collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id, ...request }))).map((f) => f.frame_index);
    expect(await order({ propagation_direction: "forward" })).toEqual([...Array(12).keys()]);
    expect(await order({ propagation_direction: "backward", start_frame_index: 11 })).toEqual([...Array(12).keys()].reverse());
    expect(await order({ propagation_direction: "both", start_frame_index: 5 })).toEqual([5, 6, 7, 8, 9, 10, 11, 4, 3, 2, 1, 0]);
    expect(await order({ propagation_direction: "both", start_frame_index: 5, max_frame_num_to_track: 2 })).toEqual([5, 6, 7, 4, 3]);
    await predictor.handleRequest({ type: "close_session", session_id });
  });

  it("keeps ids stable, masks disjoint and at full size on every frame", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    await twoObjects(session_id);
    const frames = await collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id, propagation_direction: "forward" }));
    for (const { outputs } of frames) {
      expect(outputs.out_obj_ids.every((id) => id === 1 || id === 2)).toBe(true);
      expect(outputs.out_probs).toHaveLength(outputs.out_obj_ids.length);
      const taken = new Uint8Array(160 * 120);
      for (const m of outputs.out_binary_masks) {
        expect([m.width, m.height]).toEqual([160, 120]);
        m.data.forEach((v, i) => {
          expect(v & taken[i]).toBe(0);
          taken[i] |= v;
        });
      }
    }
    expect(frames.some((f) => f.outputs.out_obj_ids.length === 2)).toBe(true);
    await predictor.handleRequest({ type: "close_session", session_id });
  });

  it("removes an object from every frame without re-running anything", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    await twoObjects(session_id);
    await collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id, propagation_direction: "forward" }));
    const calls = tracker.prompts + tracker.steps;
    const before = [...Array(12).keys()].map((t) => predictor.frame(session_id, t).objects.map((o) => o.score));
    await predictor.handleRequest({ type: "remove_object", session_id, obj_id: 2 });
    expect(tracker.prompts + tracker.steps).toBe(calls);
    for (let t = 0; t < 12; t++) {
      const { objects } = predictor.frame(session_id, t);
      expect(objects.map((o) => o.id)).not.toContain(2);
      if (objects.length) expect(objects[0].score).toBe(before[t][0]);
    }
    expect((await predictor.handleRequest({ type: "get_session", session_id })).object_ids).toEqual([1]);
    await predictor.handleRequest({ type: "close_session", session_id });
  });

  it("re-runs only the refined object in the next propagation", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    await twoObjects(session_id);
    await collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id, propagation_direction: "forward" }));
    const blue = (t: number) => predictor.frame(session_id, t).objects.find((o) => o.id === 2)?.rle.counts;
    const blueBefore = [...Array(12).keys()].map(blue);
    await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 6, obj_id: 1, points: [centre(6, "red"), [0.05, 0.95]], point_labels: [1, 0] });
    const calls = tracker.prompts + tracker.steps;
    const frames = await collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id, propagation_direction: "forward" }));
    expect(frames.map((f) => f.frame_index)).toEqual([6, 7, 8, 9, 10, 11]);
    // the click on frame 6 was answered by add_prompt: the re-run tracks the one object on the five frames after it
    expect(tracker.prompts + tracker.steps - calls).toBe(5);
    const blueAfter = [...Array(12).keys()].map(blue);
    expect(blueAfter).toEqual(blueBefore);
    await predictor.handleRequest({ type: "close_session", session_id });
  });

  it("cancels within one frame, and stops when the consumer stops reading", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    await twoObjects(session_id);
    const seen: number[] = [];
    for await (const frame of predictor.handleStreamRequest({ type: "propagate_in_video", session_id, propagation_direction: "forward" })) {
      seen.push(frame.frame_index);
      if (seen.length === 3) expect((await predictor.handleRequest({ type: "cancel_propagation", session_id })).was_running).toBe(true);
    }
    expect(seen).toEqual([0, 1, 2]);
    expect((await predictor.handleRequest({ type: "get_session", session_id })).progress).toMatchObject({ running: false, cancelled: true });
    for await (const frame of predictor.handleStreamRequest({ type: "propagate_in_video", session_id, propagation_direction: "forward" })) {
      if (frame.frame_index === 1) break;
    }
    expect(predictor.progress(session_id).running).toBe(false);
    expect((await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 2, obj_id: 3, points: [[0.5, 0.5]] })).outputs.out_obj_ids).toContain(3);
    await predictor.handleRequest({ type: "close_session", session_id });
  });

  it("refuses bad requests with typed errors and keeps the session usable", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    const code = async (request: object) => (await rejection(predictor.handleRequest(request as never))).code;
    expect(await code({ type: "add_prompt", session_id: "nope", frame_index: 0, text: "x" })).toBe("UNKNOWN_SESSION");
    expect(await code({ type: "add_prompt", session_id, frame_index: 12, obj_id: 1, points: [[0.5, 0.5]] })).toBe("BAD_REQUEST");
    expect(await code({ type: "add_prompt", session_id, frame_index: 0, points: [[0.5, 0.5]] })).toBe("BAD_REQUEST");
    expect(await code({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [[1.5, 0.5]] })).toBe("BAD_PROMPT");
    expect(await code({ type: "add_prompt", session_id, frame_index: 0, text: "  " })).toBe("BAD_PROMPT");
    expect(await code({ type: "add_prompt", session_id, frame_index: 0 })).toBe("BAD_REQUEST");
    expect(await code({ type: "remove_object", session_id, obj_id: 9 })).toBe("UNKNOWN_OBJECT");
    expect(await code({ type: "make_coffee", session_id })).toBe("BAD_REQUEST");
    expect(await code({ type: "start_session", resource_path: clip, threshold: 1.5 })).toBe("BAD_REQUEST");
    expect((await rejection(collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id })))).code).toBe("BAD_REQUEST");
    expect((await rejection(collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id: "nope" })))).code).toBe("UNKNOWN_SESSION");
    const ok = await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 11, obj_id: 4, points: [[80, 60]], coordinates: "pixels" });
    expect(ok.outputs.out_obj_ids).toEqual([4]);
    await predictor.handleRequest({ type: "remove_object", session_id, obj_id: 4 });
    expect(await code({ type: "add_prompt", session_id, frame_index: 0, obj_id: 4, points: [[0.5, 0.5]] })).toBe("BAD_REQUEST");
    await predictor.handleRequest({ type: "close_session", session_id });
    await predictor.handleRequest({ type: "close_session", session_id });
    expect(await code({ type: "get_session", session_id })).toBe("UNKNOWN_SESSION");
  });
});

describe("video predictor: concepts (detector on every frame)", () => {
  // random weights score every query ~0.25: lower the official thresholds so detections happen
  let predictor: Sam3VideoPredictor;
  beforeAll(async () => {
    predictor = await Sam3VideoPredictor.open({ rules: { scoreThresholdDetection: 0.2, newDetThresh: 0.2, detNmsThresh: 0.5, presenceThreshold: 0 } });
  });
  afterAll(() => predictor.close());

  it("a text prompt resets the session, finds objects on the prompted frame and tracks them", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 7, points: [centre(0, "red")] });
    const prompted = await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 3, text: "red square" });
    expect(prompted.outputs.out_obj_ids.length).toBeGreaterThan(0);
    expect(prompted.outputs.out_obj_ids).not.toContain(7);
    expect(Math.min(...prompted.outputs.out_obj_ids)).toBeGreaterThan(7);
    const frames = await collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id }));
    expect(frames.map((f) => f.frame_index)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 2, 1, 0]);
    const ids = new Set(frames.flatMap((f) => f.outputs.out_obj_ids));
    expect([...ids].every((id) => id > 7)).toBe(true);
    await predictor.handleRequest({ type: "close_session", session_id });
  });

  it("several concepts in one session get unique ids and their labels", async () => {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    const { outputs } = await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, text: ["red square", "blue square"] });
    expect(new Set(outputs.out_obj_ids).size).toBe(outputs.out_obj_ids.length);
    const labels = predictor.frame(session_id, 0).objects.map((o) => o.label);
    expect(new Set(labels)).toEqual(new Set(["red square", "blue square"]));
    await predictor.handleRequest({ type: "close_session", session_id });
  });
});

describe("video predictor: limits and expiry", () => {
  it("closes sessions unused past their TTL", async () => {
    const predictor = await Sam3VideoPredictor.open({ sessionTtlMs: 50 });
    try {
      const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
      await new Promise((r) => setTimeout(r, 120));
      expect((await rejection(predictor.handleRequest({ type: "get_session", session_id }))).code).toBe("UNKNOWN_SESSION");
      expect((await predictor.handleRequest({ type: "list_sessions" })).sessions).toEqual([]);
    } finally {
      await predictor.close();
    }
  });

  it("limits open sessions and their total frame cache", async () => {
    const predictor = await Sam3VideoPredictor.open({ maxSessions: 2, totalCacheBytes: 100 * 2 ** 20, sessionCacheBytes: 40 * 2 ** 20 });
    try {
      await predictor.handleRequest({ type: "start_session", resource_path: clip, session_id: "a" });
      const big = await rejection(predictor.handleRequest({ type: "start_session", resource_path: clip, cache_bytes: 80 * 2 ** 20 }));
      expect(big.code).toBe("LIMIT_EXCEEDED");
      expect(big.message).toContain("MiB");
      await predictor.handleRequest({ type: "start_session", resource_path: clip, session_id: "b" });
      expect((await rejection(predictor.handleRequest({ type: "start_session", resource_path: clip }))).code).toBe("LIMIT_EXCEEDED");
      await predictor.handleRequest({ type: "close_session", session_id: "a" });
      await predictor.handleRequest({ type: "start_session", resource_path: clip, session_id: "c" });
      expect((await predictor.handleRequest({ type: "list_sessions" })).sessions.map((s) => s.session_id).sort()).toEqual(["b", "c"]);
    } finally {
      await predictor.close();
    }
  });
});

describe("video predictor: sources", () => {
  let predictor: Sam3VideoPredictor;
  beforeAll(async () => {
    predictor = await Sam3VideoPredictor.open({ rules: { presenceThreshold: 0 } });
  });
  afterAll(() => predictor.close());

  async function trackAll(resource_path: string) {
    const info = await predictor.handleRequest({ type: "start_session", resource_path });
    await predictor.handleRequest({ type: "add_prompt", session_id: info.session_id, frame_index: 0, obj_id: 1, points: [[0.3, 0.3]] });
    const frames = await collect(predictor.handleStreamRequest({ type: "propagate_in_video", session_id: info.session_id, propagation_direction: "forward" }));
    await predictor.handleRequest({ type: "close_session", session_id: info.session_id });
    return { info, frames };
  }

  it("tracks a 1280x720 video with masks at its full size", async () => {
    const hd = await makeVideo(join(dir, "hd.mp4"), { width: 1280, height: 720, frames: 8, fps: 30 });
    const { info, frames } = await trackAll(hd);
    expect([info.width, info.height, info.frames]).toEqual([1280, 720, 8]);
    expect(frames).toHaveLength(8);
    for (const f of frames) for (const m of f.outputs.out_binary_masks) expect([m.width, m.height]).toEqual([1280, 720]);
  });

  it("downscales with max_side and skips frames with stride", async () => {
    const hd = join(dir, "hd.mp4");
    const info = await predictor.handleRequest({ type: "start_session", resource_path: hd, max_side: 320, stride: 2 });
    expect([info.width, info.height, info.frames]).toEqual([320, 180, 4]);
    await predictor.handleRequest({ type: "close_session", session_id: info.session_id });
  });

  it("uses the frames of a truncated video that decode, and says it is truncated", async () => {
    const full = await makeVideo(join(dir, "long.mp4"), { width: 160, height: 120, frames: 40, fps: 10 });
    const bytes = readFileSync(full);
    const cut = join(dir, "cut.mp4");
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const { info, frames } = await trackAll(cut);
    expect(info.decode_error).toContain("cut.mp4");
    expect(info.frames).toBeGreaterThan(0);
    expect(info.frames).toBeLessThan(40);
    expect(frames).toHaveLength(info.frames);
  });

  it("takes a folder of frames and a single image", async () => {
    const folder = join(dir, "frames");
    mkdirSync(folder);
    for (let t = 0; t < 3; t++) await sharp(SCENE).png().toFile(join(folder, `frame${t}.png`));
    const { info, frames } = await trackAll(folder);
    expect([info.kind, info.frames, info.width, info.height]).toEqual(["frames", 3, 640, 480]);
    expect(frames).toHaveLength(3);
    const single = await trackAll(SCENE);
    expect([single.info.kind, single.info.frames]).toEqual(["image", 1]);
    expect(single.frames[0].outputs.out_obj_ids).toEqual([1]);
  });

  it("refuses a file that is no video, naming it", async () => {
    const junk = join(dir, "junk.avi");
    writeFileSync(junk, "not a video at all");
    const e = await rejection(predictor.handleRequest({ type: "start_session", resource_path: junk }));
    expect(e.code).toBe("BAD_VIDEO");
    expect(e.message).toContain("junk.avi");
  });
});
