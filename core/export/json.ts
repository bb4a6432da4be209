import type { z } from "zod";
import type { Box, Mask } from "../masks/mask";
import { maskToCocoRle, type CompressedCocoRle } from "../masks/rle";
import type { frameJsonSchema, frameObjectJsonSchema, objectJsonSchema, segmentationJsonSchema } from "./json-schemas";
import { colourHex } from "./palette";

/** One object of a result as it is stored once: its mask as RLE, with its box (pixels), area and label. */
export interface ResultObject {
  id: number;
  score: number;
  box: Box;
  area: number;
  rle: CompressedCocoRle;
  /** The concept that found it (detector objects). */
  label?: string;
}

/** An object of an image result, its mask as pixels (what segment returns). */
export interface MaskObject {
  id: number;
  /** Detector: sigmoid(logit) x sigmoid(presence). Tracker: the model's IoU estimate of the chosen mask. */
  score: number;
  /** Pixels [x1, y1, x2, y2]: the detector's box, or the tracker mask's tight box. */
  box: Box;
  area: number;
  mask: Mask;
  /** The concept that found it (detector). */
  label?: string;
}

/** An image result, as segment returns it. */
export interface ImageResults {
  image: { width: number; height: number };
  model: string;
  objects: MaskObject[];
  candidates?: { score: number; area: number }[];
}

export type ObjectJson = z.infer<typeof objectJsonSchema>;
export type SegmentationJson = z.infer<typeof segmentationJsonSchema>;
export type FrameObjectJson = z.infer<typeof frameObjectJsonSchema>;
export type FrameJson = z.infer<typeof frameJsonSchema>;

const round = (v: number, digits: number) => Number(v.toFixed(digits));

function objectToJson(o: ResultObject): ObjectJson {
  return {
    id: o.id,
    ...(o.label !== undefined ? { label: o.label } : {}),
    score: round(o.score, 6),
    box: o.box.map((v) => round(v, 2)) as ObjectJson["box"],
    area: o.area,
    rle: o.rle,
    colour: colourHex(o.id),
  };
}

/** The documented JSON of one image's segmentation (CLI --json, Node-RED payload, MCP result): masks as COCO RLE. */
export function segmentationToJson(result: ImageResults): SegmentationJson {
  const json: SegmentationJson = {
    image: result.image,
    model: result.model,
    objects: result.objects.map((o) => objectToJson({ ...o, rle: maskToCocoRle(o.mask) })),
  };
  if (result.candidates) json.candidates = result.candidates.map((c) => ({ score: round(c.score, 6), area: c.area }));
  return json;
}

/** One video frame's stored objects as JSON (CLI `track --json` lines, the per-frame file, MCP, Node-RED, web). */
export function frameToJson(frame_index: number, objects: readonly ResultObject[], width: number, height: number): FrameJson {
  return {
    frame_index,
    objects: objects.map((o) => {
      const [x1, y1, x2, y2] = o.box;
      const box_xywh = [x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height].map((v) => round(v, 6)) as FrameObjectJson["box_xywh"];
      return { ...objectToJson(o), box_xywh };
    }),
  };
}
