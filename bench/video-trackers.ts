import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VideoWriter } from "../core/export/video-writer";
import { MaskPromptTracker, MemoryVideoTracker, type VideoTracker } from "../core/video/object-tracker";
import { Sam3VideoPredictor } from "../core/video/predictor";
import type { Sam3 } from "../core/sam3";
import type { VideoRules } from "../core/video/rules";

const FRAMES = 30;
const WIDTH = 640;
const HEIGHT = 480;

const TRACKERS: Record<string, (sam: Sam3, rules: VideoRules) => VideoTracker> = {
  "memory, batched memory encoder": (sam) => new MemoryVideoTracker(sam),
  "memory, one object at a time": (sam) => new MemoryVideoTracker(sam, { batchMemory: false }),
  "mask prompts (fallback)": (sam, rules) => new MaskPromptTracker(sam, rules.presenceThreshold),
};

/** Frames per second of a forward propagation of 1 and 4 clicked objects, per tracker, on a 640x480 clip. */
export async function benchTrackers(model: string) {
  const dir = mkdtempSync(join(tmpdir(), "sam3-bench-"));
  try {
    const path = join(dir, "clip.mp4");
    const writer = await VideoWriter.open(path, { width: WIDTH, height: HEIGHT, fps: 30 });
    for (let t = 0; t < FRAMES; t++) await writer.write(new Uint8Array(WIDTH * HEIGHT * 3).fill(96 + t));
    await writer.close();
    console.log(`\nvideo trackers, ${model}, ${WIDTH}x${HEIGHT}, ${FRAMES} frames, clicked objects, frames per second (one run):`);
    const rows: Record<string, number[]> = {};
    for (const [name, makeTracker] of Object.entries(TRACKERS)) {
      const predictor = await Sam3VideoPredictor.open({ model, makeTracker, rules: { presenceThreshold: 0 } });
      rows[name] = [];
      for (const objects of [1, 4]) {
        const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: path });
        for (let id = 1; id <= objects; id++) {
          await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: id, points: [[0.2 * id, 0.5]] });
        }
        const start = performance.now();
        for await (const _ of predictor.propagate(session_id, { direction: "forward" }));
        rows[name].push(FRAMES / ((performance.now() - start) / 1000));
        await predictor.handleRequest({ type: "close_session", session_id });
      }
      await predictor.close();
    }
    const batched = rows["memory, batched memory encoder"];
    const single = rows["memory, one object at a time"];
    for (const [name, [one, four]] of Object.entries(rows)) console.log(`  ${name.padEnd(32)} 1 object ${one.toFixed(2)} fps, 4 objects ${four.toFixed(2)} fps`);
    console.log(`  batched / one at a time, 4 objects: ${(batched[1] / single[1]).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
