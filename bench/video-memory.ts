import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sam3VideoPredictor } from "../core/video/predictor";
import { VideoWriter } from "../core/export/video-writer";

/** Frames decoded ahead are cached up to this; the default (256 MiB) would hide the rest while it fills. */
const FRAME_CACHE_BYTES = 32 * 2 ** 20;
/** Frame counts at which resident memory is sampled, to show where it levels off. */
const CHECKPOINTS = [30, 100, 300, 600];
const mb = (b: number) => Math.round(b / 2 ** 20);

/** Resident memory while tracking an N-frame 640x480 clip (text concept + one clicked object), as one JSON line. */
async function main(frames: number) {
  const dir = mkdtempSync(join(tmpdir(), "sam3-bench-"));
  try {
    const path = join(dir, "clip.mp4");
    const width = 640;
    const height = 480;
    const writer = await VideoWriter.open(path, { width, height, fps: 30 });
    for (let t = 0; t < frames; t++) {
      const rgb = new Uint8Array(width * height * 3).fill(128);
      const x0 = 40 + (t % 400);
      for (let y = 180; y < 280; y++) for (let x = x0; x < x0 + 100; x++) rgb.set([220, 30, 30], (y * width + x) * 3);
      await writer.write(rgb);
    }
    await writer.close();
    const predictor = await Sam3VideoPredictor.open({ model: "sam3-tiny-336" });
    const { session_id } = await predictor.handleRequest({ type: "start_session", resource_path: path, cache_bytes: FRAME_CACHE_BYTES });
    await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, text: "red square" });
    await predictor.handleRequest({ type: "add_prompt", session_id, frame_index: 0, obj_id: 100, points: [[0.14, 0.48]] });
    const baseline = process.memoryUsage().rss;
    const rssAt: Record<number, number> = {};
    let peak = baseline;
    const start = performance.now();
    for await (const _frame of predictor.propagate(session_id, { direction: "forward" })) {
      const rss = process.memoryUsage().rss;
      peak = Math.max(peak, rss);
      if (CHECKPOINTS.includes(_frame.frame_index + 1)) rssAt[_frame.frame_index + 1] = mb(rss);
    }
    const seconds = (performance.now() - start) / 1000;
    const { results_bytes: stored, frame_cache_bytes: cached, tracker_bytes: tracker } = predictor.info(session_id).memory;
    await predictor.close();
    process.stdout.write(JSON.stringify({ frames, baselineMB: mb(baseline), peakMB: mb(peak), growthMB: mb(peak - baseline), rssMBAfterFrames: rssAt, frameCacheMB: mb(cached), storedResultsKB: Math.round(stored / 1024), trackerMB: mb(tracker), fps: Number((frames / seconds).toFixed(1)) }) + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main(Number(process.argv[2] ?? 30)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
