import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boxPromptTensors } from "../../core/detector";
import { decodeImage } from "../../core/image/decode";
import { toPixelTensor } from "../../core/image/preprocess";
import { openPack } from "../../core/pack/open";
import type { Role } from "../../core/pack/roles";
import type { ImagePrompt } from "../../core/prompts";
import { Engine, type GraphEngine, type Tensors } from "../../core/runtime/engine";
import { Sam3, type SegmentOptions, type SegmentResult } from "../../core/sam3";
import { TextTokenizer } from "../../core/text/tokenizer";
import { candidateLogits, pointPromptTensors, readTrackerOutput } from "../../core/tracker";
import { parseEngine } from "../../core/triton/engine-url";
import { TritonEngine } from "../../core/triton/engine";
import { writeTritonRepository } from "../../core/triton/model-repository";
import { MemoryVideoTracker } from "../../core/video/object-tracker";
import type { FrameJson } from "../../core/export/json";
import { Sam3VideoPredictor } from "../../core/video/predictor";
import { rejection } from "../support/errors";
import { maxAbsDiff, PACKS, REPO, SCENE } from "../support/reference";
import { loadClipSpec, writeClipFrames } from "../support/synthetic-clip";
import { describeWithTriton, startTritonServer, type TritonServer } from "../support/triton-server";

/** Through Triton the graphs run on the same onnxruntime CPU kernels: results agree to float noise at most. */
const TOLERANCE = 1e-5;
/** The largest difference seen, printed at the end (the number a change is judged by). */
let worst = 0;
afterAll(() => console.log(`Triton vs local, largest difference of any tensor, score, box or logit: ${worst}`));

/** |a - b| at its largest, within TOLERANCE. */
function expectClose(a: ArrayLike<number> | number, b: ArrayLike<number> | number, what: string) {
  const diff = typeof a === "number" ? Math.abs(a - (b as number)) : maxAbsDiff(a, b as ArrayLike<number>);
  worst = Math.max(worst, diff);
  expect(diff, what).toBeLessThanOrEqual(TOLERANCE);
}
const BOX = { box: [80, 90, 240, 250] as [number, number, number, number] };

/** Every output of one graph call, here and on the server. */
function expectSameTensors(local: Tensors, remote: Tensors, what: string) {
  expect(Object.keys(remote).sort(), what).toEqual(Object.keys(local).sort());
  for (const [key, tensor] of Object.entries(local)) {
    expect(remote[key].dims, `${what}: ${key}`).toEqual(tensor.dims);
    expect(remote[key].type, `${what}: ${key}`).toBe(tensor.type);
    const [a, b] = [tensor.data, remote[key].data].map((d) => Array.from(d as ArrayLike<number | bigint>, Number));
    expectClose(a, b, `${what}: ${key}`);
  }
}

/** One segmentation here and on the server: the same objects, scores, boxes, masks and low-res logits. */
function expectSameResult(local: SegmentResult, remote: SegmentResult, what: string) {
  expect(remote.objects.map((o) => [o.id, o.label]), what).toEqual(local.objects.map((o) => [o.id, o.label]));
  local.objects.forEach((o, i) => {
    const r = remote.objects[i];
    expectClose(r.score, o.score, `${what}: score of ${o.id}`);
    expectClose(r.box, o.box, `${what}: box of ${o.id}`);
    expect(Buffer.compare(Buffer.from(r.mask.data), Buffer.from(o.mask.data)), `${what}: mask of ${o.id}`).toBe(0);
  });
  expect(remote.candidates?.length, what).toBe(local.candidates?.length);
  local.candidates?.forEach((c, i) => expectClose(remote.candidates![i].score, c.score, `${what}: candidate ${i}`));
  if (local.lowResMask) expectClose(remote.lowResMask!, local.lowResMask, `${what}: low-res logits`);
}

/** The image graphs' calls of the parity suites (test/parity/detector.test.ts, tracker.test.ts), with their feeds. */
async function imageGraphCalls(name: string, local: GraphEngine): Promise<[Role, Tensors][]> {
  const pack = openPack(name);
  const image = await decodeImage(SCENE);
  const { imageSize, normalize, tokenizer } = pack.manifest;
  const pixels = toPixelTensor(image, imageSize, normalize);
  const vision = await local.run("visionEncoder", { pixels });
  const embeddings = await local.run("trackerVisionEncoder", { pixels });
  const tokens = new TextTokenizer(join(pack.dir, tokenizer.file), tokenizer.contextLength).encode("red circle");
  const text = { inputIds: new ort.Tensor("int64", tokens.inputIds, [1, tokens.inputIds.length]), attentionMask: new ort.Tensor("int64", tokens.attentionMask, [1, tokens.attentionMask.length]) };
  const { textFeatures } = await local.run("textEncoder", text);
  const detector = { ...vision, textFeatures, textMask: text.attentionMask };
  const clicks = pointPromptTensors({ points: [{ x: 200, y: 180 }, { x: 420, y: 300, positive: false }], image, imageSize });
  const first = readTrackerOutput(await local.run("trackerDecoder", { ...embeddings, ...clicks }));
  const maskInput = new ort.Tensor("float32", candidateLogits(first, 0), [1, 1, first.maskSize, first.maskSize]);
  return [
    ["backbone", { pixels }],
    ["visionEncoder", { pixels }],
    ["trackerVisionEncoder", { pixels }],
    ["textEncoder", text],
    ["detectorDecoder", detector],
    ["detectorDecoderBoxes", { ...detector, ...boxPromptTensors([BOX], image.width, image.height) }],
    ["trackerDecoder", { ...embeddings, ...clicks }],
    ["trackerDecoderMask", { ...embeddings, ...clicks, maskInput }],
    ["videoTrackerDecoder", { ...embeddings, ...clicks }],
    ["videoTrackerDecoderMask", { ...embeddings, ...clicks, maskInput }],
  ];
}

/** The end-to-end prompts of the parity suites: text at two thresholds, clicks, boxes, candidates (refinement below). */
const SEGMENT_CASES: [string, ImagePrompt, SegmentOptions][] = [
  ["text, threshold 0", { text: "red circle" }, { threshold: 0, minRegionArea: 0 }],
  ["text, threshold 0.3", { text: "red circle" }, { threshold: 0.3 }],
  ["two clicks", { points: [{ x: 200, y: 180 }, { x: 420, y: 300, positive: false }] }, { minRegionArea: 0 }],
  ["one click, three candidates", { points: [{ x: 200, y: 180 }] }, { minRegionArea: 0 }],
  ["a box", { boxes: [BOX] }, { minRegionArea: 0 }],
  ["a box, three candidates", { boxes: [BOX] }, { multimask: true }],
  ["a box and a click", { boxes: [BOX], points: [{ x: 160, y: 170 }] }, {}],
];

/**
 * A Triton server for the enclosing describe, serving the packs' repositories as `sam3 models triton-repo` writes
 * them (one folder holding all); `engine(query)` is its URL for the engine option.
 */
function serveOnTriton(packs: readonly string[]) {
  const dir = mkdtempSync(join(tmpdir(), "sam3-triton-test-"));
  let server: TritonServer;
  beforeAll(async () => {
    for (const pack of packs) {
      const out = join(dir, "parts", pack);
      await writeTritonRepository(openPack(pack), out, { kind: "cpu" });
      cpSync(out, join(dir, "repository"), { recursive: true });
    }
    server = await startTritonServer(join(dir, "repository"));
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server: () => server, engine: (query = "") => `${server.url.replace(/^http:/, "triton:")}${query}`, dir };
}

describeWithTriton("SAM 3 on a real Triton server (the repository sam3 models triton-repo writes)", () => {
  // one server for every test here: the last one kills it
  const triton = serveOnTriton(PACKS);
  let engine: string;
  beforeAll(() => {
    engine = triton.engine();
  });

  describe.each(PACKS)("%s", (name) => {
    let local: Sam3;
    let remote: Sam3;
    beforeAll(async () => {
      [local, remote] = await Promise.all([Sam3.open({ model: name }), Sam3.open({ model: name, engine })]);
    });
    afterAll(async () => {
      await Promise.all([local?.close(), remote?.close()]);
    });

    it("opens after checking the server's health and every graph's metadata against the manifest", () => {
      expect(remote.device.remote).toBe(triton.server().url.slice("http://".length));
    });

    it("every image graph gives the same tensors through Triton as here", async () => {
      const here = new Engine(openPack(name));
      const there = new TritonEngine(openPack(name), parseEngine(engine)!);
      try {
        for (const [role, feeds] of await imageGraphCalls(name, here)) expectSameTensors(await here.run(role, feeds), await there.run(role, feeds), `${name} ${role}`);
      } finally {
        await Promise.all([here.close(), there.close()]);
      }
    });

    it.each(SEGMENT_CASES)("segments as here: %s", async (what, prompt, options) => {
      expectSameResult(await local.segment(SCENE, prompt, options), await remote.segment(SCENE, prompt, options), `${name}, ${what}`);
    });

    it("refines a mask through Triton as here", async () => {
      const clicks = { points: [{ x: 200, y: 180 }] };
      const [a, b] = [await local.segment(SCENE, clicks), await remote.segment(SCENE, clicks)];
      expectSameResult(await local.segment(SCENE, { ...clicks, maskInput: a.lowResMask }), await remote.segment(SCENE, { ...clicks, maskInput: b.lowResMask }), `${name}, refinement`);
    });
  });

  describe("video", () => {
    const spec = loadClipSpec();
    // within the first 24 frames the memory window fills and the green bar leaves the picture
    const FRAMES = 24;
    const frames = join(triton.dir, "clip");
    beforeAll(() => writeClipFrames(spec, frames));

    /** Clicks on two objects and a concept on frame 0, then forward through the clip; every frame's objects. */
    async function track(engineUrl: string | undefined, recorded?: [Role, Tensors][]): Promise<FrameJson[]> {
      const predictor = await Sam3VideoPredictor.open({
        model: "sam3-tiny-336",
        engine: engineUrl,
        // the memory graphs' feeds are recorded once, to be run on both engines below
        makeTracker: recorded ? (sam) => new MemoryVideoTracker(Object.assign(Object.create(sam) as Sam3, { runGraph: (role: Role, feeds: Tensors) => (recorded.push([role, feeds]), sam.runGraph(role, feeds)) })) : undefined,
      });
      try {
        const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: frames, threshold: 0.1 });
        await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, text: "shape" });
        await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 100, points: [[25, 32]], point_labels: [1], coordinates: "pixels" });
        await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 101, points: [[76, 46], [20, 20]], point_labels: [1, 0], coordinates: "pixels" });
        const out: FrameJson[] = [];
        for await (const frame of predictor.propagate(session_id, { direction: "forward", maxFrames: recorded ? 3 : FRAMES - 1 })) out.push(frame);
        return out;
      } finally {
        await predictor.close();
      }
    }

    it("propagation gives every frame's objects as here: ids, scores, boxes and masks", async () => {
      const [here, there] = [await track(undefined), await track(engine)];
      expect(there.map((f) => f.frame_index)).toEqual(here.map((f) => f.frame_index));
      expect(here.length).toBe(FRAMES);
      here.forEach((frame, i) => {
        const remote = there[i];
        expect(remote.objects.map((o) => o.id), `frame ${frame.frame_index}`).toEqual(frame.objects.map((o) => o.id));
        frame.objects.forEach((o, k) => {
          const r = remote.objects[k];
          const what = `frame ${frame.frame_index}, object ${o.id}`;
          expectClose(r.score, o.score, what);
          expect(r.rle, what).toEqual(o.rle);
        });
      });
    }, 600_000);

    it("the memory graphs give the same tensors through Triton as here", async () => {
      const recorded: [Role, Tensors][] = [];
      await track(undefined, recorded);
      const roles = new Set(recorded.map(([role]) => role));
      expect([...roles].sort()).toEqual(expect.arrayContaining(["memoryAttention", "memoryEncoder", "videoTrackerDecoder"]));
      const pack = openPack("sam3-tiny-336");
      const [here, there] = [new Engine(pack), new TritonEngine(pack, parseEngine(engine)!)];
      try {
        // the first call of each graph, and the last (the fullest memory)
        const picks = [...roles].flatMap((role) => {
          const calls = recorded.filter(([r]) => r === role);
          return [...new Set([calls[0], calls[calls.length - 1]])];
        });
        for (const [role, feeds] of picks) expectSameTensors(await here.run(role, feeds), await there.run(role, feeds), role);
      } finally {
        await Promise.all([here.close(), there.close()]);
      }
    }, 300_000);
  });

  // last: the server shared by other processes, then killed
  it("3 processes x 20 concurrent requests: every one answered, each as it is here", async () => {
    // each request its own prompt (a click on its own spot, or the concept), so a mixed-up answer would show
    const prompts = Array.from({ length: 20 }, (_, i) => (i % 5 === 0 ? { text: "red circle" } : { points: [{ x: 40 + 25 * i, y: 60 + 15 * i }] }));
    const script = `
      const { Sam3 } = require(${JSON.stringify(join(REPO, "dist", "core"))});
      (async () => {
        const sam = await Sam3.open({ model: "sam3-tiny-336", engine: process.argv[1] });
        const results = await Promise.allSettled(${JSON.stringify(prompts)}.map((prompt) => sam.segment(${JSON.stringify(SCENE)}, prompt, { threshold: 0 })));
        const answers = results.map((r) => r.status === "fulfilled" ? r.value.objects.map((o) => [o.id, o.area, Number(o.score.toFixed(6))]) : { error: String(r.reason && r.reason.code) });
        process.stdout.write(JSON.stringify(answers));
        await sam.close();
      })();`;
    const run = () =>
      new Promise<unknown[]>((resolve, reject) =>
        execFile(process.execPath, ["-e", script, triton.engine("?timeout=300")], { maxBuffer: 1 << 24 }, (error, stdout, stderr) => (error ? reject(new Error(stderr || String(error))) : resolve(JSON.parse(stdout)))),
      );
    const answers = await Promise.all([run(), run(), run()]);
    const sam = await Sam3.open({ model: "sam3-tiny-336" });
    try {
      const expected = [];
      for (const prompt of prompts) {
        const result = await sam.segment(SCENE, prompt, { threshold: 0 });
        expected.push(result.objects.map((o) => [o.id, o.area, Number(o.score.toFixed(6))]));
      }
      for (const process of answers) expect(process).toEqual(expected);
    } finally {
      await sam.close();
    }
  }, 600_000);

  it("killed mid-propagation: a typed error; the process and the session stay, answering it at once", async () => {
    const server = triton.server();
    const predictor = await Sam3VideoPredictor.open({ model: "sam3-tiny-336", engine: triton.engine("?retries=2") });
    try {
      const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: join(REPO, "examples", "shapes.mp4") });
      await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [[0.3, 0.4]], point_labels: [1] });
      const seen: number[] = [];
      const e = await rejection(
        (async () => {
          for await (const frame of predictor.propagate(session_id, { direction: "forward" })) {
            seen.push(frame.frame_index);
            if (seen.length === 2) await server.kill();
          }
        })(),
      );
      expect(e.code).toBe("REMOTE_UNAVAILABLE");
      expect(e.message).toMatch(/^the Triton server at 127\.0\.0\.1:\d+ does not answer \(\w+\) after 3 tries$/);
      expect(seen.length).toBeLessThan(10);
      // the session is still there, and the next call says the server is down without hanging
      expect((await predictor.handleRequest({ type: "get_session", session_id })).session_id).toBe(session_id);
      expect((await rejection(predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 3, obj_id: 2, points: [[0.5, 0.5]], point_labels: [1] }))).code).toBe("REMOTE_UNAVAILABLE");
    } finally {
      await predictor.close();
    }
  }, 180_000);
});
