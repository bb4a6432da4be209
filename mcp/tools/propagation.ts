import { createWriteStream, type WriteStream } from "node:fs";
import { rename, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { asSam3Error, frameToJson, partialName, type PropagateRequest, type Sam3VideoPredictor } from "../../core";
import type { McpContext } from "../context";
import type { ToolExtra } from "./tool-extra";

export interface ObjectSummary {
  id: number;
  label?: string;
  frames_present: number;
  first_frame: number;
  last_frame: number;
  mean_area: number;
  mean_score: number;
}

export interface PropagationReport {
  frames: number;
  cancelled: boolean;
  objects: ObjectSummary[];
  /** JSON lines, one per frame: the full results. */
  file: string;
}

/**
 * Runs a propagation for a tool: per-frame results go to a JSON-lines file (too large for a message), progress
 * goes to the client when it asked for it, and the client's cancellation stops the run within a frame. The file
 * is written under a hidden name and renamed when complete; a write failure stops the run with WRITE_FAILED.
 */
export async function propagateToFile(
  ctx: McpContext,
  predictor: Sam3VideoPredictor,
  request: Omit<PropagateRequest, "type">,
  extra: ToolExtra,
): Promise<PropagationReport> {
  const session = predictor.session(request.session_id);
  const folder = await ctx.paths.jobFolder(`${request.session_id}-${Date.now()}`);
  const file = join(folder, "frames.jsonl");
  const partial = partialName(file);
  const out = createWriteStream(partial);
  let failure: unknown;
  out.on("error", (e) => (failure ??= e));
  const stats = new Map<number, { frames: number; first: number; last: number; area: number; score: number }>();
  const cancel = () => void predictor.handleRequest({ type: "cancel_propagation", session_id: request.session_id });
  extra.signal.addEventListener("abort", cancel);
  const token = extra._meta?.progressToken;
  let frames = 0;
  try {
    for await (const frame of predictor.handleStreamRequest({ type: "propagate_in_video", ...request })) {
      const json = frameToJson(frame);
      if (!failure && !out.write(JSON.stringify(json) + "\n")) await drained(out);
      if (failure) break;
      for (const o of json.objects) {
        const s = stats.get(o.id) ?? { frames: 0, first: frame.frame_index, last: frame.frame_index, area: 0, score: 0 };
        s.frames++;
        s.first = Math.min(s.first, frame.frame_index);
        s.last = Math.max(s.last, frame.frame_index);
        s.area += o.area;
        s.score += o.score;
        stats.set(o.id, s);
      }
      frames++;
      const { done, total } = session.progress;
      if (token !== undefined) {
        await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: done, total, message: `frame ${frame.frame_index} (${done}/${total})` } });
      }
    }
    out.end();
    await finished(out).catch((e) => (failure ??= e));
    if (failure) throw failure;
    await rename(partial, file);
  } catch (e) {
    out.destroy();
    await rm(partial, { force: true });
    await rmdir(folder).catch(() => undefined);
    throw asSam3Error(e, "writing the per-frame results");
  } finally {
    extra.signal.removeEventListener("abort", cancel);
  }
  const objects = [...stats]
    .sort(([a], [b]) => a - b)
    .map(([id, s]) => ({
      id,
      ...(session.labelOf(id) ? { label: session.labelOf(id) } : {}),
      frames_present: s.frames,
      first_frame: s.first,
      last_frame: s.last,
      mean_area: Math.round(s.area / s.frames),
      mean_score: Number((s.score / s.frames).toFixed(4)),
    }));
  return { frames, cancelled: session.progress.cancelled || extra.signal.aborted, objects, file };
}

/** Waits until a stream takes more data, or has failed. */
const drained = (out: WriteStream) =>
  new Promise<void>((resolve) => {
    if (out.destroyed) return resolve();
    const done = () => {
      out.off("drain", done).off("error", done).off("close", done);
      resolve();
    };
    out.on("drain", done).on("error", done).on("close", done);
  });
