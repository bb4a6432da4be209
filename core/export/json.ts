import type { SegmentResult } from "../sam3";
import { maskToCocoRle, type CompressedCocoRle } from "./rle";

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
