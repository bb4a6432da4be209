import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../core/video/predictor";
import { messagePaths, modelConfig, sink, TestFlow, type Msg } from "../support/node-red";
import { makeVideo, type SyntheticVideo } from "../support/synthetic-video";

const CLIP: SyntheticVideo = { width: 160, height: 120, frames: 8, fps: 10 };
const dir = mkdtempSync(join(tmpdir(), "sam3-nodes-load-"));
let clip: string;

const loadNode = (id: string, out: string, settings: Record<string, unknown> = {}) => ({
  id,
  type: "sam3-load-video",
  name: "",
  model: "model",
  property: "",
  maxSide: "",
  stride: "",
  ...messagePaths(),
  wires: [[out]],
  ...settings,
});

interface SessionRef {
  id: string;
  frames: number;
  width: number;
  height: number;
  fps: number;
}

const sessionOf = (msg: Msg) => msg.session as SessionRef;
const infoOf = (msg: Msg) => msg.payload as SessionInfo;

describe("sam3-load-video (compiled node, real engine)", () => {
  let flow: TestFlow;

  beforeAll(async () => {
    clip = await makeVideo(join(dir, "clip.mp4"), CLIP);
    flow = await TestFlow.load([
      modelConfig(),
      loadNode("load", "out"),
      loadNode("loadSmall", "outSmall", { maxSide: "80", stride: "2" }),
      loadNode("loadProperty", "outProperty", { property: "video.path" }),
      loadNode("loadNoModel", "outNoModel", { model: "" }),
      loadNode("loadTyped", "outTyped", { property: join(dir, "clip.mp4"), propertyType: "str", paths: "off" }),
      loadNode("loadNoPaths", "outNoPaths", { paths: undefined, pathFolder: undefined }),
      loadNode("loadExample", "outExample", { property: "sam3-example:shapes.mp4", propertyType: "str", paths: "off" }),
      loadNode("loadExampleOut", "outExampleOut", { property: "sam3-example:../package.json", propertyType: "str", paths: "off" }),
      ...["out", "outSmall", "outProperty", "outNoModel", "outTyped", "outNoPaths", "outExample", "outExampleOut"].map(sink),
    ]);
  });
  // every session reserves 256 MiB of the predictor's 1 GiB frame-cache budget until it is closed
  afterEach(() => flow.closeSessions());
  afterAll(async () => {
    await flow.unload();
    rmSync(dir, { recursive: true, force: true });
  });

  it("opens a video file as a session: msg.session {id, frames, width, height, fps}, msg.payload the session info", async () => {
    const msg = await flow.request("load", { payload: clip, topic: "kept" }, "out");
    const session = sessionOf(msg);
    expect(Object.keys(session).sort()).toEqual(["fps", "frames", "height", "id", "width"]);
    expect(session).toMatchObject({ frames: 8, width: 160, height: 120, fps: 10 });
    expect(typeof session.id).toBe("string");
    expect(infoOf(msg)).toMatchObject({ session_id: session.id, resource_path: clip, frames: 8, width: 160, height: 120, kind: "video", tracker: "memory", object_ids: [] });
    expect(msg.topic).toBe("kept");
    expect(flow.lastStatus("load")).toEqual({ fill: "green", shape: "dot", text: "8 frames 160x120" });
    // the session lives in the model node's predictor, where the other nodes find it
    const predictor = await flow.predictor();
    expect(await predictor.handleRequest({ type: "get_session", session_id: session.id })).toMatchObject({ frames: 8, width: 160, height: 120 });
    // every message opens its own session
    const again = await flow.request("load", { payload: clip }, "out");
    expect(sessionOf(again).id).not.toBe(session.id);
  });

  it("opens the bytes of a video (a Buffer), named by msg.filename, from a private temporary file removed on close", async () => {
    const bytes = readFileSync(clip);
    const named = await flow.request("load", { payload: bytes, filename: "upload.mp4" }, "out");
    expect(sessionOf(named)).toMatchObject({ frames: 8, width: 160, height: 120, fps: 10 });
    expect(basename(infoOf(named).resource_path)).toBe("upload.mp4");
    const predictor = await flow.predictor();
    // the temporary file the session reads (the message names the upload, never the server's temporary path)
    const path = (predictor as unknown as { session(id: string): { source: { path: string } } }).session(sessionOf(named).id).source.path;
    expect(basename(path)).toBe("upload.mp4");
    expect(readFileSync(path).equals(bytes)).toBe(true);
    const unnamed = await flow.request("load", { payload: new Uint8Array(bytes) }, "out");
    expect(basename(infoOf(unnamed).resource_path)).toBe("video.mp4");
    await predictor.handleRequest({ type: "close_session", session_id: sessionOf(named).id });
    expect(existsSync(dirname(path))).toBe(false);
  });

  it("msg.maxSide downscales and msg.stride keeps every Nth frame", async () => {
    const small = await flow.request("load", { payload: clip, maxSide: 80 }, "out");
    expect(sessionOf(small)).toMatchObject({ frames: 8, width: 80, height: 60 });
    const strided = await flow.request("load", { payload: clip, stride: 2 }, "out");
    expect(sessionOf(strided)).toMatchObject({ frames: 4, width: 160, height: 120, fps: 5 });
    const both = await flow.request("load", { payload: clip, maxSide: "40", stride: "3" }, "out");
    expect(sessionOf(both)).toMatchObject({ frames: 3, width: 40, height: 30 });
  });

  it("the node's Max side and Stride apply unless the message overrides them", async () => {
    const configured = await flow.request("loadSmall", { payload: clip }, "outSmall");
    expect(sessionOf(configured)).toMatchObject({ frames: 4, width: 80, height: 60 });
    const overridden = await flow.request("loadSmall", { payload: clip, maxSide: 120, stride: 1 }, "outSmall");
    expect(sessionOf(overridden)).toMatchObject({ frames: 8, width: 120, height: 90 });
  });

  it("a path typed in the node (type string) is read whatever the message holds", async () => {
    const msg = await flow.request("loadTyped", { payload: "/etc/passwd" }, "outTyped");
    expect(sessionOf(msg)).toMatchObject({ frames: 8, width: 160, height: 120 });
  });

  it("sam3-example: typed in the node opens the package's demo clip, shown as typed; nothing outside the examples", async () => {
    const msg = await flow.request("loadExample", { payload: "/etc/passwd" }, "outExample");
    expect(sessionOf(msg).frames).toBeGreaterThan(0);
    expect(infoOf(msg).resource_path).toBe("sam3-example:shapes.mp4");
    const error = await flow.failure("loadExampleOut", { payload: "" }, ["outExampleOut"]);
    expect(error.code).toBe("PATH_NOT_ALLOWED");
    expect(error.message).toContain("sam3-example:../package.json is not one of the package's example files (sam3-example:scene.png, sam3-example:shapes.mp4)");
    // in a message the prefix means nothing: a message path stays inside the node's folder
    const fromMessage = await flow.failure("load", { payload: "sam3-example:shapes.mp4" }, ["out"]);
    expect(fromMessage.code).toBe("PATH_NOT_ALLOWED");
  });

  it("without a folder for message paths (nodes saved before the setting) a path in the message is refused", async () => {
    const error = await flow.failure("loadNoPaths", { payload: clip }, ["outNoPaths"]);
    expect(error.code).toBe("PATH_NOT_ALLOWED");
    expect(error.message).not.toContain(dir);
    const bytes = await flow.request("loadNoPaths", { payload: readFileSync(clip), filename: "clip.mp4" }, "outNoPaths");
    expect(sessionOf(bytes)).toMatchObject({ frames: 8 });
  });

  it("a message path is shown as given, and a link inside the folder to a video there works", async () => {
    symlinkSync(clip, join(dir, "linked.mp4"));
    const msg = await flow.request("load", { payload: join(dir, "linked.mp4") }, "out");
    expect(infoOf(msg).resource_path).toBe(join(dir, "linked.mp4"));
  });

  it("reads the video from another property (property: video.path)", async () => {
    const msg = await flow.request("loadProperty", { payload: "/not/this/one.mp4", video: { path: clip } }, "outProperty");
    expect(sessionOf(msg)).toMatchObject({ frames: 8, width: 160, height: 120 });
  });

  describe("errors: done(err) to a catch node, a red ring, no output, the runtime unharmed", () => {
    it("a junk path", async () => {
      // a missing file in the folder for message paths: the same refusal as a file outside it
      const missing = await flow.failure("load", { payload: join(dir, "no-such-video.mp4") }, ["out"]);
      expect(missing.code).toBe("PATH_NOT_ALLOWED");
      expect(missing.message).toMatch(/does not name a file inside the folder/);
      expect(flow.lastStatus("load")).toEqual({ fill: "red", shape: "ring", text: "path not allowed" });
      const junk = await flow.failure("load", { payload: Buffer.from("this is not a video at all"), filename: "junk.mp4" }, ["out"]);
      expect(["BAD_VIDEO", "FFMPEG_FAILED"]).toContain(junk.code);
    });

    it("no input", async () => {
      for (const payload of [undefined, "", 42]) {
        const error = await flow.failure("load", { payload }, ["out"]);
        expect(error.message).toMatch(/msg\.payload must be a video's bytes \(a Buffer\), or a path to a video or a folder of frames/);
        expect(flow.lastStatus("load")).toEqual({ fill: "red", shape: "ring", text: "bad video" });
      }
    });

    it("bad Max side / Stride", async () => {
      const text = await flow.failure("load", { payload: clip, maxSide: "big" }, ["out"]);
      expect(text.message).toMatch(/maxSide must be a number/);
      const negative = await flow.failure("load", { payload: clip, stride: -2 }, ["out"]);
      expect(negative.message).toMatch(/stride/);
    });

    it("no model configured", async () => {
      const error = await flow.failure("loadNoModel", { payload: clip }, ["outNoModel"]);
      expect(error.message).toMatch(/choose a SAM 3 model/);
    });

    it("the node still works after its failures", async () => {
      const msg = await flow.request("load", { payload: clip }, "out");
      expect(sessionOf(msg)).toMatchObject({ frames: 8 });
      expect(flow.lastStatus("load")).toEqual({ fill: "green", shape: "dot", text: "8 frames 160x120" });
      expect(flow.errors.pending).toBe(0);
    });
  });
});
