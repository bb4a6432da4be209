import type { IncomingMessage, ServerResponse } from "node:http";
import type { Sam3VideoPredictor } from "../core";
import { WebError } from "./http";
import type { ExportedFile } from "./image-handlers";
import type { VideoMedia } from "./media-store";
import { checkOnFrame, frameNumber, type PromptRequest } from "./requests";

const EXPORT_TYPES: Record<string, string> = { "masks.jsonl": "application/jsonl", "masks.zip": "application/zip", "overlay.mp4": "video/mp4" };

/** A video prompt: text concepts, or the NEW clicks / box of object obj_id (the session keeps the earlier ones). */
export async function promptVideo(predictor: Sam3VideoPredictor, media: VideoMedia, request: PromptRequest) {
  const info = predictor.info(media.sessionId);
  const frame = frameNumber(String(request.frame ?? 0), info.frames);
  checkOnFrame(request, info.width, info.height);
  const prompt = request.concepts.length
    ? { frame, text: request.concepts }
    : { frame, objectId: request.obj_id ?? Math.max(0, ...info.object_ids) + 1, points: request.points, boxes: request.box ? [{ box: request.box }] : undefined };
  return withLabels((await predictor.addPrompt(media.sessionId, prompt)).objects);
}

/** The objects on frame n, in pixels, with their label and core's colour. */
export const videoObjects = (predictor: Sam3VideoPredictor, media: VideoMedia, n: number) => withLabels(predictor.frame(media.sessionId, n).objects);

// a clicked object has no concept: the page names it "object"
const withLabels = <O extends { label?: string }>(objects: O[]) => objects.map((o) => ({ ...o, label: o.label ?? "object" }));

export async function removeVideoObject(predictor: Sam3VideoPredictor, media: VideoMedia, objId: number): Promise<number[]> {
  if (!predictor.info(media.sessionId).object_ids.includes(objId)) throw new WebError(404, "UNKNOWN_OBJECT", `there is no object ${objId}`);
  await predictor.handleRequest({ type: "remove_object", session_id: media.sessionId, obj_id: objId });
  return predictor.info(media.sessionId).object_ids;
}

/** Every object goes: the session starts over. */
export async function clearVideo(predictor: Sam3VideoPredictor, media: VideoMedia): Promise<void> {
  await predictor.handleRequest({ type: "reset_session", session_id: media.sessionId });
}

/** Propagates forward, one JSON line of progress per frame, then a last line saying how it ended. */
export async function propagateVideo(predictor: Sam3VideoPredictor, media: VideoMedia, req: IncomingMessage, res: ServerResponse) {
  const stream = predictor.propagate(media.sessionId, { direction: "forward" });
  // the first frame proves the request is valid before the 200 goes out
  const first = await stream.next();
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
  const stop = () => void cancelVideo(predictor, media).catch(() => undefined);
  req.socket.once("close", stop);
  try {
    for (let step = first; !step.done; step = await stream.next()) {
      media.lastUsed = Date.now();
      const { done, total } = predictor.progress(media.sessionId);
      res.write(JSON.stringify({ done, total, frame: step.value.frame_index }) + "\n");
    }
    const { done, cancelled } = predictor.progress(media.sessionId);
    res.end(JSON.stringify({ finished: true, frames: done, cancelled }) + "\n");
  } finally {
    req.socket.off("close", stop);
  }
}

export async function cancelVideo(predictor: Sam3VideoPredictor, media: VideoMedia): Promise<boolean> {
  return (await predictor.handleRequest({ type: "cancel_propagation", session_id: media.sessionId })).was_running;
}

export async function exportVideo(predictor: Sam3VideoPredictor, media: VideoMedia, file: string): Promise<ExportedFile> {
  if (file === "masks.jsonl" || file === "masks.zip" || file === "overlay.mp4") return { type: EXPORT_TYPES[file], data: await predictor.exportFile(media.sessionId, file) };
  throw new WebError(400, "BAD_REQUEST", file === "overlay.png" ? "a video's overlay is overlay.mp4" : "cut-outs are made of images");
}
