import { createWriteStream, type WriteStream } from "node:fs";
import { rename, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { asSam3Error, type ObjectSummary, partialName, type PropagateOptions, type Sam3VideoPredictor } from "../../core";
import type { McpContext } from "../context";
import type { ToolExtra } from "./tool-extra";

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
  sessionId: string,
  options: PropagateOptions,
  extra: ToolExtra,
): Promise<PropagationReport> {
  const folder = await ctx.jobFolder(sessionId);
  const file = join(folder, "frames.jsonl");
  const partial = partialName(file);
  const out = createWriteStream(partial);
  let failure: unknown;
  out.on("error", (e) => (failure ??= e));
  const cancel = () => void predictor.handleRequest({ type: "cancel_propagation", session_id: sessionId });
  extra.signal.addEventListener("abort", cancel);
  const token = extra._meta?.progressToken;
  let frames = 0;
  try {
    for await (const frame of predictor.propagate(sessionId, options)) {
      if (!failure && !out.write(JSON.stringify(frame) + "\n")) await drained(out);
      if (failure) break;
      frames++;
      const { done, total } = predictor.progress(sessionId);
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
  return { frames, cancelled: predictor.progress(sessionId).cancelled || extra.signal.aborted, objects: predictor.objects(sessionId), file };
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
