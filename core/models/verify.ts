import { join } from "node:path";
import { describeCapabilities } from "../pack/capabilities";
import { Sam3Error, asSam3Error } from "../errors";
import { PACKAGE_ROOT } from "../paths";
import type { ImagePrompt } from "../prompts";
import type { RuntimeOptions } from "../runtime/engine";
import { Sam3, type SegmentOptions } from "../sam3";
import { Sam3VideoPredictor } from "../video/predictor";

export interface VerifyCheck {
  name: string;
  ms: number;
  /** Objects found (image stages) or frames tracked (video). */
  objects: number;
}

export interface VerifyReport {
  model: string;
  dir: string;
  /** Where the graphs ran: the device, or "Triton host:port". */
  device: string;
  /** What the pack claims, in words: every claim has a stage below. */
  capabilities: string;
  checks: VerifyCheck[];
}

const MEDIA = join(PACKAGE_ROOT, "examples");
const SCENE = join(MEDIA, "scene.png");
const CLIP = join(MEDIA, "shapes.mp4");
const CLICK = { x: 160, y: 170 };
const BOX = { box: [80, 90, 240, 250] as [number, number, number, number] };
const VIDEO_FRAMES = 3;

/**
 * Opens a pack (checking every file and tensor) and runs every capability it claims on the bundled scene and clip:
 * text, exemplar box, one click, box, clicks with the previous mask, and a 3-frame propagation. Stops at the first
 * stage that fails, with an error naming it; `onCheck` hears each stage as it passes.
 */
export async function verifyPack(dir: string, runtime: Pick<RuntimeOptions, "device" | "engine"> = {}, onCheck?: (check: VerifyCheck) => void): Promise<VerifyReport> {
  const checks: VerifyCheck[] = [];
  const stage = async (name: string, run: () => Promise<number>) => {
    const started = performance.now();
    let objects: number;
    try {
      objects = await run();
    } catch (e) {
      const error = asSam3Error(e, name);
      throw new Sam3Error(error.code, `verify stopped at "${name}": ${error.message}`, { cause: e });
    }
    const check = { name, ms: performance.now() - started, objects };
    checks.push(check);
    onCheck?.(check);
  };
  let sam: Sam3 | undefined;
  await stage("open", async () => {
    sam = await Sam3.open({ model: dir, ...runtime });
    return 0;
  });
  const opened = sam!;
  try {
    const can = opened.capabilities;
    const image = async (prompt: ImagePrompt, options: SegmentOptions = {}) => opened.segment(SCENE, prompt, { threshold: 0, maxObjects: 3, ...options });
    const count = (prompt: ImagePrompt) => async () => (await image(prompt)).objects.length;
    if (can.text) await stage("text prompt", count({ text: "circle" }));
    if (can.exemplarBoxes) await stage("exemplar box", count({ text: "circle", boxes: [BOX] }));
    if (can.clicks) await stage("click", count({ points: [CLICK] }));
    if (can.box) await stage("box", count({ boxes: [BOX] }));
    if (can.maskRefinement) {
      await stage("clicks + previous mask", async () => {
        const first = await image({ points: [CLICK] });
        return (await image({ points: [CLICK, { x: 60, y: 60, positive: false }], maskInput: first.lowResMask })).objects.length;
      });
    }
    if (can.video) await stage(`video, ${VIDEO_FRAMES} frames`, () => propagateClip(dir, runtime));
    const { active, remote } = opened.device;
    return { model: opened.pack.manifest.name, dir: opened.pack.dir, device: remote ? `Triton ${remote}` : active, capabilities: describeCapabilities(can), checks };
  } finally {
    await opened.close();
  }
}

/** One clicked object tracked over the first frames of the bundled clip: the frames that came back. */
async function propagateClip(dir: string, runtime: Pick<RuntimeOptions, "device" | "engine">): Promise<number> {
  const predictor = await Sam3VideoPredictor.open({ model: dir, ...runtime });
  try {
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: CLIP });
    await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 1, points: [[0.5, 0.5]], point_labels: [1] });
    let frames = 0;
    for await (const _ of predictor.handleStreamRequest({ type: "propagate_in_video", session_id, max_frame_num_to_track: VIDEO_FRAMES - 1 })) frames++;
    if (frames < VIDEO_FRAMES) throw new Sam3Error("INTERNAL", `propagation gave ${frames} of ${VIDEO_FRAMES} frames`);
    return frames;
  } finally {
    await predictor.close();
  }
}
