import type { IncomingMessage, ServerResponse } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cocoRleToMask, frameToJson, maskToPng, objectColour, type Sam3VideoPredictor, toHex, writeVideoResults, zipFiles } from "../core";
import { WebError } from "./http";
import type { ExportedFile } from "./image-handlers";
import type { VideoMedia } from "./media-store";
import { checkOnFrame, frameNumber, type PromptRequest } from "./requests";

/** A video prompt: text concepts, or the NEW clicks / box of object obj_id (the session keeps the earlier ones). */
export async function promptVideo(predictor: Sam3VideoPredictor, media: VideoMedia, request: PromptRequest) {
  const session_id = media.sessionId;
  const { info } = predictor.session(session_id).source;
  const frame_index = frameNumber(String(request.frame ?? 0), info.frames);
  checkOnFrame(request, info.width, info.height);
  if (request.concepts.length) {
    await predictor.handleRequest({ type: "add_prompt", session_id, frame_index, text: request.concepts });
  } else {
    const ids = predictor.session(session_id).objectIds();
    const obj_id = request.obj_id ?? Math.max(0, ...ids) + 1;
    const points = request.points ?? [];
    await predictor.handleRequest({
      type: "add_prompt",
      session_id,
      frame_index,
      obj_id,
      coordinates: "pixels",
      ...(points.length ? { points: points.map((p) => [p.x, p.y] as [number, number]), point_labels: points.map((p) => (p.positive === false ? 0 : 1)) } : {}),
      ...(request.box ? { bounding_boxes: [[request.box[0], request.box[1], request.box[2] - request.box[0], request.box[3] - request.box[1]] as [number, number, number, number]] } : {}),
    });
  }
  return videoObjects(predictor, media, frame_index);
}

/** The objects on frame n, in pixels, with their label and core's colour. */
export function videoObjects(predictor: Sam3VideoPredictor, media: VideoMedia, n: number) {
  const session = predictor.session(media.sessionId);
  const { width, height } = session.source.info;
  return frameToJson({ frame_index: n, outputs: session.outputs.outputs(n) }).objects.map((o) => {
    const [x, y, w, h] = o.box_xywh;
    return { id: o.id, label: session.labelOf(o.id) ?? "object", score: o.score, box: [x * width, y * height, (x + w) * width, (y + h) * height], area: o.area, rle: o.rle, colour: toHex(objectColour(o.id)) };
  });
}

export const videoFrames = (predictor: Sam3VideoPredictor, media: VideoMedia) => predictor.session(media.sessionId).source.info.frames;

export const videoFrame = (predictor: Sam3VideoPredictor, media: VideoMedia, n: number) => predictor.session(media.sessionId).source.readFrame(n);

export async function removeVideoObject(predictor: Sam3VideoPredictor, media: VideoMedia, objId: number): Promise<number[]> {
  if (!predictor.session(media.sessionId).objectIds().includes(objId)) throw new WebError(404, "UNKNOWN_OBJECT", `there is no object ${objId}`);
  await predictor.handleRequest({ type: "remove_object", session_id: media.sessionId, obj_id: objId });
  return (await predictor.handleRequest({ type: "get_session", session_id: media.sessionId })).object_ids;
}

/** Every object goes: the session starts over. */
export async function clearVideo(predictor: Sam3VideoPredictor, media: VideoMedia): Promise<void> {
  await predictor.handleRequest({ type: "reset_session", session_id: media.sessionId });
}

/** Propagates forward, one JSON line of progress per frame, then a last line saying how it ended. */
export async function propagateVideo(predictor: Sam3VideoPredictor, media: VideoMedia, req: IncomingMessage, res: ServerResponse) {
  const session = predictor.session(media.sessionId);
  const stream = predictor.handleStreamRequest({ type: "propagate_in_video", session_id: media.sessionId, propagation_direction: "forward" });
  // the first frame proves the request is valid before the 200 goes out
  const first = await stream.next();
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
  const stop = () => void cancelVideo(predictor, media).catch(() => undefined);
  req.socket.once("close", stop);
  try {
    for (let step = first; !step.done; step = await stream.next()) {
      media.lastUsed = Date.now();
      const { done, total } = session.progress;
      res.write(JSON.stringify({ done, total, frame: step.value.frame_index }) + "\n");
    }
    const { done, cancelled } = session.progress;
    res.end(JSON.stringify({ finished: true, frames: done, cancelled }) + "\n");
  } finally {
    req.socket.off("close", stop);
  }
}

export async function cancelVideo(predictor: Sam3VideoPredictor, media: VideoMedia): Promise<boolean> {
  return (await predictor.handleRequest({ type: "cancel_propagation", session_id: media.sessionId })).was_running;
}

export async function exportVideo(predictor: Sam3VideoPredictor, media: VideoMedia, file: string): Promise<ExportedFile> {
  const session = predictor.session(media.sessionId);
  const frames = session.source.info.frames;
  if (file === "masks.jsonl") {
    const lines = [];
    for (let t = 0; t < frames; t++) {
      const outputs = session.outputs.outputs(t);
      if (outputs.out_obj_ids.length) lines.push(JSON.stringify(frameToJson({ frame_index: t, outputs })) + "\n");
    }
    return { type: "application/jsonl", data: lines.join("") };
  }
  if (file === "masks.zip") {
    const entries = [];
    for (let t = 0; t < frames; t++) {
      const json = frameToJson({ frame_index: t, outputs: session.outputs.outputs(t) });
      for (const o of json.objects) entries.push({ name: `obj-${o.id}/${String(t).padStart(6, "0")}.png`, data: await maskToPng(cocoRleToMask(o.rle)) });
    }
    return { type: "application/zip", data: zipFiles(entries) };
  }
  if (file !== "overlay.mp4") throw new WebError(400, "BAD_REQUEST", file === "overlay.png" ? "a video's overlay is overlay.mp4" : "cut-outs are made of images");
  const dir = await mkdtemp(join(tmpdir(), "sam3-ui-"));
  try {
    const [video] = await writeVideoResults(session, dir, "overlay", { overlay: true });
    return { type: "video/mp4", data: await readFile(video) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
