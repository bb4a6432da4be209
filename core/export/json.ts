import { maskArea } from "../masks/mask";
import type { SegmentResult } from "../sam3";
import type { FrameResult } from "../video/session";
import { maskToCocoRle, type CompressedCocoRle } from "../masks/rle";

export interface ObjectJson {
  id: number;
  score: number;
  box: [number, number, number, number];
  area: number;
  rle: CompressedCocoRle;
}

export interface SegmentationJson {
  image: { width: number; height: number };
  model: string;
  objects: ObjectJson[];
  candidates?: { score: number; area: number }[];
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** The documented JSON of one image's segmentation (CLI --json, Node-RED payload, MCP result): masks as COCO RLE. */
export function segmentationToJson(result: SegmentResult): SegmentationJson {
  const json: SegmentationJson = {
    image: result.image,
    model: result.model,
    objects: result.objects.map((o) => ({
      id: o.id,
      score: round(o.score, 6),
      box: o.box.map((v) => round(v, 2)) as ObjectJson["box"],
      area: o.area,
      rle: maskToCocoRle(o.mask),
    })),
  };
  if (result.candidates) json.candidates = result.candidates.map((c) => ({ score: round(c.score, 6), area: c.area }));
  return json;
}

export interface FrameObjectJson {
  id: number;
  score: number;
  /** Normalised [x, y, w, h]. */
  box_xywh: [number, number, number, number];
  area: number;
  rle: CompressedCocoRle;
}

export interface FrameJson {
  frame_index: number;
  objects: FrameObjectJson[];
}

/** One video frame's objects as JSON (CLI `track --json` lines, the per-frame file, MCP resources). */
export function frameToJson({ frame_index, outputs }: FrameResult): FrameJson {
  return {
    frame_index,
    objects: outputs.out_obj_ids.map((id, i) => ({
      id,
      score: round(outputs.out_probs[i], 6),
      box_xywh: outputs.out_boxes_xywh[i].map((v) => round(v, 6)) as FrameObjectJson["box_xywh"],
      area: maskArea(outputs.out_binary_masks[i]),
      rle: maskToCocoRle(outputs.out_binary_masks[i]),
    })),
  };
}
