import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { frameToJson } from "../../core/export/json";
import type { Sam3VideoPredictor } from "../../core/video/predictor";
import type { PropagateRequest } from "../../core/video/requests";
import type { McpContext } from "../context";

/** What a tool handler is given to talk back: its cancellation signal and a way to notify progress. */
export interface ToolExtra {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification: (notification: { method: "notifications/progress"; params: { progressToken: string | number; progress: number; total?: number; message?: string } }) => Promise<void>;
}

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
 * goes to the client when it asked for it, and the client's cancellation stops the run within a frame.
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
  const out = createWriteStream(file);
  const stats = new Map<number, { frames: number; first: number; last: number; area: number; score: number }>();
  const cancel = () => void predictor.handleRequest({ type: "cancel_propagation", session_id: request.session_id });
  extra.signal.addEventListener("abort", cancel);
  const token = extra._meta?.progressToken;
  let frames = 0;
  try {
    for await (const frame of predictor.handleStreamRequest({ type: "propagate_in_video", ...request })) {
      const json = frameToJson(frame);
      if (!out.write(JSON.stringify(json) + "\n")) await new Promise<void>((r) => out.once("drain", () => r()));
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
  } finally {
    extra.signal.removeEventListener("abort", cancel);
    await new Promise<void>((r) => out.end(() => r()));
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
