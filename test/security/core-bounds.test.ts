/**
 * Core bounds, session state and concurrency on the real onnxruntime, sharp and ffmpeg.
 *
 * Corpus (test/security/corpus/core.json): an array of entries
 *   { name, face: "segment" | "open" | "predictorOpen" | "predictor", prompt?, options?, request?, stream?, repeat?, code }
 * - "segment": Sam3.segment(<a 160x120 PNG>, prompt, options); "open": Sam3.open(options);
 *   "predictorOpen": Sam3VideoPredictor.open(options);
 *   "predictor": handleRequest(request), or handleStreamRequest(request) when `stream` is true.
 * - `rgb` { width, height } (segment) passes an already decoded image of that claimed size with 16x16 pixels of data.
 * - "$session" in a request is a live session holding one clicked object; "$video" is its clip.
 * - `repeat` { field, count, item } sets prompt/request[field] to `count` copies of `item` (a string item is
 *   repeated into one string), so huge inputs are made at test time.
 * - `code` is the Sam3Error code expected. After every case the predictor must still answer and the session must
 *   be exactly as before (objects and frame-0 masks).
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { LIMITS } from "../../core/limits";
import { Sam3 } from "../../core/sam3";
import { Sam3VideoPredictor } from "../../core/video/predictor";
import { rejection } from "../support/errors";
import { makeVideo, type SyntheticVideo } from "../support/synthetic-video";

interface CorpusCase {
  name: string;
  face: "segment" | "open" | "predictorOpen" | "predictor";
  prompt?: Record<string, unknown>;
  options?: Record<string, unknown>;
  request?: unknown;
  stream?: boolean;
  repeat?: { field: string; count: number; item: unknown };
  rgb?: { width: number; height: number };
  code: string;
}

const corpus: CorpusCase[] = JSON.parse(readFileSync(join(__dirname, "corpus/core.json"), "utf8"));
const dir = mkdtempSync(join(tmpdir(), "sam3-core-bounds-"));
const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 6, fps: 10 };
let clip: string;
let image: Buffer;
let sam: Sam3;
let predictor: Sam3VideoPredictor;

beforeAll(async () => {
  clip = await makeVideo(join(dir, "clip.mp4"), CLIP);
  image = await sharp({ create: { width: 160, height: 120, channels: 3, background: { r: 90, g: 120, b: 200 } } }).png().toBuffer();
  sam = await Sam3.open();
  // random weights put the object score near 0.5: count every mask as visible
  predictor = await Sam3VideoPredictor.open({ rules: { presenceThreshold: 0 } });
});
afterAll(async () => {
  await predictor?.close();
  await sam?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function drain(stream: AsyncIterable<unknown>) {
  for await (const _ of stream);
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

/** `count` copies of `item`: one long string for a string item. */
const repeated = (item: unknown, count: number) => (typeof item === "string" ? item.repeat(count) : Array.from({ length: count }, () => structuredClone(item)));

/** What a session is, minus its clock: ids, progress and every frame's masks. */
function snapshot(session_id: string) {
  const { object_ids, frames } = predictor.info(session_id);
  return {
    objects: object_ids,
    frames: Array.from({ length: frames }, (_, t) => {
      const { objects } = predictor.frame(session_id, t);
      return { ids: objects.map((o) => o.id), probs: objects.map((o) => o.score), masks: objects.map((o) => o.rle.counts) };
    }),
  };
}

describe("image API bounds", () => {
  it("refuses 30,000 points and 20,000 boxes before decoding, with bounded memory", async () => {
    const points = Array.from({ length: 30_000 }, (_, i) => ({ x: i % 160, y: i % 120 }));
    const boxes = Array.from({ length: 20_000 }, () => ({ box: [1, 1, 20, 20] as [number, number, number, number] }));
    // measured from here: what handling the request costs, not building it
    const before = rssMiB();
    const tooManyPoints = await rejection(sam.segment(image, { points }));
    expect(tooManyPoints.code).toBe("LIMIT_EXCEEDED");
    expect(tooManyPoints.message).toContain("pointsPerPrompt");
    const tooManyBoxes = await rejection(sam.segment(image, { text: "square", boxes }));
    expect(tooManyBoxes.code).toBe("LIMIT_EXCEEDED");
    expect(tooManyBoxes.message).toContain("boxesPerPrompt");
    const longText = await rejection(sam.segment(image, { text: "a".repeat(LIMITS.textLength + 1) }));
    expect(longText.message).toContain("textLength");
    const growth = rssMiB() - before;
    console.log(`image API: 30,000 points / 20,000 boxes refused, RSS growth ${growth.toFixed(1)} MiB (peak RSS ${rssMiB().toFixed(0)} MiB)`);
    expect(growth).toBeLessThan(64);
  });

  it("takes prompts at the limits", async () => {
    const points = Array.from({ length: LIMITS.pointsPerPrompt }, (_, i) => ({ x: 10 + i, y: 50, positive: i % 2 === 0 }));
    expect((await sam.segment(image, { points })).objects).toHaveLength(1);
  });

  it("refuses thread counts beyond LIMITS.threads before loading anything", async () => {
    const before = Sam3.loadedModels();
    for (const threads of [100_000, LIMITS.threads + 1, -1, 2.5, Number.NaN, Infinity]) {
      expect((await rejection(Sam3.open({ intraOpThreads: threads }))).code).toBe("BAD_OPTION");
      expect((await rejection(Sam3.open({ interOpThreads: threads }))).code).toBe("BAD_OPTION");
    }
    expect((await rejection(Sam3VideoPredictor.open({ intraOpThreads: 100_000 }))).code).toBe("BAD_OPTION");
    expect(Sam3.loadedModels()).toBe(before);
  });

  it("a pack whose tokenizer is not a tokenizer: PACK_INVALID, without quoting the file", async () => {
    const pack = join(dir, "bad-tokenizer");
    cpSync(join(__dirname, "../../models/sam3-tiny-336"), pack, { recursive: true });
    writeFileSync(join(pack, "tokenizer.json"), "root:x:0:0:root:/root:/bin/bash\n");
    const broken = await Sam3.open({ model: pack });
    try {
      const e = await rejection(broken.segment(image, { text: "square" }));
      expect(e.code).toBe("PACK_INVALID");
      expect(e.message).not.toContain("root:");
      expect(e.message).not.toContain(dir);
    } finally {
      await broken.close();
    }
  });

  it("refuses huge or NaN segment options", async () => {
    for (const options of [{ threshold: Number.NaN }, { fineness: 1e9 }, { minRegionArea: Infinity }, { minRegionArea: Number.NaN }, { maxObjects: 1e12 }, { nms: -0.1 }]) {
      expect((await rejection(sam.segment(image, { text: "square" }, options))).code).toBe("BAD_OPTION");
    }
  });
});

describe("video request bounds and session state", () => {
  let session_id: string;
  beforeAll(async () => {
    ({ session_id } = await predictor.handleRequest({ type: "start_session", resource_path: clip, session_id: "state" }));
    await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [[0.3, 0.4]] });
  });

  it("refuses 30,000 points and 20,000 boxes in the schema, with bounded memory", async () => {
    const points = Array.from({ length: 30_000 }, () => [0.5, 0.5] as [number, number]);
    const bounding_boxes = Array.from({ length: 20_000 }, () => [0.1, 0.1, 0.2, 0.2] as [number, number, number, number]);
    const before = rssMiB();
    const a = await rejection(predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 2, points }));
    expect([a.code, a.message]).toEqual(["LIMIT_EXCEEDED", expect.stringContaining("pointsPerPrompt")]);
    const b = await rejection(predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, text: "square", bounding_boxes }));
    expect([b.code, b.message]).toEqual(["LIMIT_EXCEEDED", expect.stringContaining("boxesPerPrompt")]);
    const c = await rejection(drain(predictor.handleStreamRequest({ type: "propagate_in_video", session_id, max_frame_num_to_track: LIMITS.framesPerSession + 1 })));
    expect([c.code, c.message]).toEqual(["LIMIT_EXCEEDED", expect.stringContaining("framesPerSession")]);
    const growth = rssMiB() - before;
    console.log(`video API: 30,000 points / 20,000 boxes refused, RSS growth ${growth.toFixed(1)} MiB (peak RSS ${rssMiB().toFixed(0)} MiB)`);
    expect(growth).toBeLessThan(64);
  });

  it("does not store a click outside the frame: the object takes later clicks", async () => {
    const before = snapshot(session_id);
    const outside = await rejection(predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [[500, 10]], coordinates: "pixels" }));
    expect(outside.code).toBe("BAD_PROMPT");
    const fresh = await rejection(predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 1, obj_id: 5, points: [[-3, 10]], coordinates: "pixels" }));
    expect(fresh.code).toBe("BAD_PROMPT");
    expect(snapshot(session_id)).toEqual(before);
    // both objects still take good clicks: nothing of the refused ones was kept
    const refined = await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [[0.35, 0.4]] });
    expect(refined.outputs.out_obj_ids).toContain(1);
    const added = await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 1, obj_id: 5, points: [[0.7, 0.5]] });
    expect(added.outputs.out_obj_ids).toContain(5);
    await predictor.handleRequest({ type: "remove_object", session_id, obj_id: 5 });
  });

  it("refuses an empty text without wiping the session's objects", async () => {
    const before = snapshot(session_id);
    expect(before.objects).toContain(1);
    for (const text of ["", "   ", ["square", " "]]) {
      expect((await rejection(predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, text }))).code).toBe("BAD_PROMPT");
    }
    expect(snapshot(session_id)).toEqual(before);
  });

  it("limits the objects of one session", async () => {
    const { session_id: crowded } = await predictor.handleRequest({ type: "start_session", resource_path: clip });
    for (let id = 1; id <= LIMITS.objectsPerSession; id++) {
      await predictor.handleRequest({ type: "add_prompt", session_id: crowded, frame_index: 0, obj_id: id, points: [[(id % 16) / 16 + 0.01, 0.5]] });
    }
    const over = await rejection(predictor.handleRequest({ type: "add_prompt", session_id: crowded, frame_index: 0, obj_id: 999, points: [[0.5, 0.5]] }));
    expect([over.code, over.message]).toEqual(["LIMIT_EXCEEDED", expect.stringContaining("objectsPerSession")]);
    expect(predictor.info(crowded).object_ids).toHaveLength(LIMITS.objectsPerSession);
    await predictor.handleRequest({ type: "close_session", session_id: crowded });
  });

  it(`runs the ${corpus.length}-case corpus: every case refused with its code, the session untouched`, async () => {
    const before = snapshot(session_id);
    const outcomes: string[] = [];
    for (const entry of corpus) {
      const expand = (value: Record<string, unknown> | undefined) =>
        entry.repeat && value ? { ...value, [entry.repeat.field]: repeated(entry.repeat.item, entry.repeat.count) } : value;
      const substitute = (value: unknown) => JSON.parse(JSON.stringify(value ?? null).replaceAll('"$session"', JSON.stringify(session_id)).replaceAll('"$video"', JSON.stringify(clip)));
      let call: Promise<unknown>;
      const input = entry.rgb ? { ...entry.rgb, data: Buffer.alloc(16 * 16 * 3), key: entry.name } : image;
      if (entry.face === "segment") call = sam.segment(input, expand(entry.prompt ?? {}) as never, entry.options as never);
      else if (entry.face === "open") call = Sam3.open(entry.options as never).then((s) => s.close());
      else if (entry.face === "predictorOpen") call = Sam3VideoPredictor.open(entry.options as never).then((p) => p.close());
      else {
        const request = typeof entry.request === "object" ? expand(substitute(entry.request)) : entry.request;
        call = entry.stream ? drain(predictor.handleStreamRequest(request as never)) : predictor.handleRequest(request as never);
      }
      const e = await call.then(() => undefined, (err: unknown) => err);
      outcomes.push(`${entry.name}: ${e instanceof Sam3Error ? e.code : `no Sam3Error (${String(e)})`}`);
      expect(e, entry.name).toBeInstanceOf(Sam3Error);
      expect((e as Sam3Error).code, entry.name).toBe(entry.code);
      // still answering, and the session exactly as it was
      expect((await predictor.handleRequest({ type: "list_sessions" })).sessions.map((s) => s.session_id)).toContain(session_id);
      expect(snapshot(session_id), entry.name).toEqual(before);
    }
    console.log(`core corpus: ${corpus.length} cases, ${outcomes.length} refused with the expected code, 0 crashes`);
  });
});

describe("session limits under concurrency", () => {
  it("16 concurrent starts with maxSessions 8 open exactly 8 and refuse 8", async () => {
    const limited = await Sam3VideoPredictor.open({ maxSessions: 8 });
    try {
      const results = await Promise.allSettled(Array.from({ length: 16 }, () => limited.handleRequest({ type: "start_session", resource_path: clip })));
      const opened = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(opened).toHaveLength(8);
      expect(refused.map((r) => (r.reason as Sam3Error).code)).toEqual(Array(8).fill("LIMIT_EXCEEDED"));
      expect((await limited.handleRequest({ type: "list_sessions" })).sessions).toHaveLength(8);
    } finally {
      await limited.close();
    }
  });

  it("two concurrent starts with one session_id: one opens, the other is refused, nothing leaks", async () => {
    const limited = await Sam3VideoPredictor.open({ maxSessions: 2 });
    try {
      const results = await Promise.allSettled([0, 1].map(() => limited.handleRequest({ type: "start_session", resource_path: clip, session_id: "twin" })));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(results.map((r) => (r.status === "rejected" ? (r.reason as Sam3Error).code : "ok")).sort()).toEqual(["BAD_REQUEST", "ok"]);
      await limited.handleRequest({ type: "close_session", session_id: "twin" });
      // both slots are free again: no reservation leaked
      await limited.handleRequest({ type: "start_session", resource_path: clip, session_id: "a" });
      await limited.handleRequest({ type: "start_session", resource_path: clip, session_id: "twin" });
      expect((await limited.handleRequest({ type: "list_sessions" })).sessions.map((s) => s.session_id).sort()).toEqual(["a", "twin"]);
    } finally {
      await limited.close();
    }
  });

  it("a failed open gives its slot and cache back; a failed upload leaves no temporary folder", async () => {
    const uploads = join(dir, "tmp");
    mkdirSync(uploads);
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = uploads;
    const limited = await Sam3VideoPredictor.open({ maxSessions: 1, totalCacheBytes: 64 * 2 ** 20, sessionCacheBytes: 64 * 2 ** 20 });
    try {
      for (let i = 0; i < 3; i++) {
        expect((await rejection(limited.handleRequest({ type: "start_session", resource_path: join(dir, "missing.mp4") }))).code).toBe("BAD_VIDEO");
        const upload = await rejection(limited.startSessionFromBytes(Buffer.from("not a video at all"), "holiday.mp4"));
        expect(upload.code).toBe("BAD_VIDEO");
        expect(upload.message).not.toContain(uploads);
      }
      expect(readdirSync(uploads)).toEqual([]);
      const info = await limited.startSessionFromBytes(readFileSync(clip), "../../holiday.mp4");
      expect(info.resource_path).toBe("holiday.mp4");
      expect(info.frames).toBe(CLIP.frames);
      expect((await rejection(limited.startSessionFromBytes(readFileSync(clip), "second.mp4"))).code).toBe("LIMIT_EXCEEDED");
      expect(readdirSync(uploads)).toHaveLength(1);
      await limited.handleRequest({ type: "close_session", session_id: info.session_id });
      expect(readdirSync(uploads)).toEqual([]);
    } finally {
      await limited.close();
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
  });
});
