import { decodeRleCounts, encodeRleCounts, maskToRleCounts, rleCountsToMask } from "../masks/rle";
import { maskBox, type Mask } from "../masks/mask";
import { disjointMasks } from "./association";

/** What a frame's outputs look like in the official predictor's shape. */
export interface FrameOutputs {
  out_obj_ids: number[];
  out_probs: number[];
  /** Normalised [x, y, w, h] of each object's (disjoint) mask. */
  out_boxes_xywh: [number, number, number, number][];
  /** At the video's resolution, one per id, no pixel in two of them. */
  out_binary_masks: Mask[];
}

interface StoredObject {
  score: number;
  /** COCO-compressed run lengths (about a byte per run): a frame's masks cost little, so long videos fit. */
  rle: string;
}

/** Every object's mask and score per frame, kept run-length encoded; the session's results. */
export class OutputStore {
  private readonly frames = new Map<number, Map<number, StoredObject>>();

  constructor(private readonly width: number, private readonly height: number) {}

  set(frame: number, id: number, mask: Mask, score: number): void {
    let objects = this.frames.get(frame);
    if (!objects) this.frames.set(frame, (objects = new Map()));
    objects.set(id, { score, rle: encodeRleCounts(maskToRleCounts(mask)) });
  }

  /** Clears an object on one frame (lost or hidden there). */
  clear(frame: number, id: number): void {
    this.frames.get(frame)?.delete(id);
  }

  /** Removes an object from every frame. */
  removeObject(id: number): void {
    for (const objects of this.frames.values()) objects.delete(id);
  }

  reset(): void {
    this.frames.clear();
  }

  has(frame: number, id: number): boolean {
    return this.frames.get(frame)?.has(id) ?? false;
  }

  mask(frame: number, id: number): { mask: Mask; score: number } | undefined {
    const stored = this.frames.get(frame)?.get(id);
    return stored && { mask: this.decode(stored), score: stored.score };
  }

  /** The frame's objects sorted by id, with masks made disjoint by score. */
  outputs(frame: number): FrameOutputs {
    const entries = [...(this.frames.get(frame) ?? new Map<number, StoredObject>())].sort(([a], [b]) => a - b);
    const masks = disjointMasks(entries.map(([, o]) => ({ mask: this.decode(o), score: o.score })));
    const { width: w, height: h } = this;
    return {
      out_obj_ids: entries.map(([id]) => id),
      out_probs: entries.map(([, o]) => o.score),
      out_boxes_xywh: masks.map((m) => {
        const [x1, y1, x2, y2] = maskBox(m) ?? [0, 0, 0, 0];
        return [x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h];
      }),
      out_binary_masks: masks,
    };
  }

  /** Bytes held by the stored run lengths (one-byte strings). */
  bytes(): number {
    let total = 0;
    for (const objects of this.frames.values()) for (const o of objects.values()) total += o.rle.length;
    return total;
  }

  private decode(stored: StoredObject): Mask {
    return rleCountsToMask(decodeRleCounts(stored.rle), this.height, this.width);
  }
}
