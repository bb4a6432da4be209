import type { ResultObject } from "../export/json";
import type { Mask } from "../masks/mask";
import { cocoRleToMask } from "../masks/rle";
import { Sam3Error } from "../errors";
import type { AddPromptRequest, VideoPrompt } from "./requests";

// The official predictor's shapes (sam3_video_predictor's requests and outputs), converted here only: the rest of
// core speaks in points, pixel boxes and stored results.

/** What the official predictor returns for a frame: ids, scores, normalised boxes and binary masks. */
export interface FrameOutputs {
  out_obj_ids: number[];
  out_probs: number[];
  /** Normalised [x, y, w, h] of each object's (disjoint) mask. */
  out_boxes_xywh: [number, number, number, number][];
  /** At the video's resolution, one per id, no pixel in two of them. */
  out_binary_masks: Mask[];
}

export interface FrameResult {
  frame_index: number;
  outputs: FrameOutputs;
}

/** The official add_prompt's arrays ([x, y] points with 0/1 labels, [x, y, w, h] boxes) as core's prompt. */
export function fromOfficialPrompt(request: AddPromptRequest): VideoPrompt {
  const { points = [], point_labels, bounding_boxes: boxes = [], bounding_box_labels } = request;
  if (point_labels && point_labels.length !== points.length) {
    throw new Sam3Error("BAD_REQUEST", `${points.length} points but ${point_labels.length} point_labels`);
  }
  if (bounding_box_labels && bounding_box_labels.length !== boxes.length) {
    throw new Sam3Error("BAD_REQUEST", `${boxes.length} bounding_boxes but ${bounding_box_labels.length} bounding_box_labels`);
  }
  return {
    frame: request.frame_index,
    text: request.text,
    points: points.map(([x, y], i) => ({ x, y, positive: (point_labels?.[i] ?? 1) === 1 })),
    boxes: boxes.map(([x, y, w, h], i) => ({ box: [x, y, x + w, y + h], positive: (bounding_box_labels?.[i] ?? 1) === 1 })),
    objectId: request.obj_id,
    coordinates: request.coordinates,
  };
}

/** A frame's stored objects in the official shape: masks decoded, boxes normalised. */
export function toOfficialFrame(frame_index: number, objects: readonly ResultObject[], width: number, height: number): FrameResult {
  return {
    frame_index,
    outputs: {
      out_obj_ids: objects.map((o) => o.id),
      out_probs: objects.map((o) => o.score),
      out_boxes_xywh: objects.map(({ box: [x1, y1, x2, y2] }) => [x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height]),
      out_binary_masks: objects.map((o) => cocoRleToMask(o.rle)),
    },
  };
}
