import type { ResultObject } from "../export/json";
import { maskArea, maskBox, type Box, type Mask } from "../masks/mask";
import { cocoRleToMask, maskToCocoRle } from "../masks/rle";
import { disjointMasks } from "./association";

/** A change to one object on a frame: its new mask, or null where it is absent (lost or hidden). */
export type ObjectChange = { mask: Mask; score: number; label?: string } | null;

/**
 * Each frame's final result, kept once: masks made disjoint by score, then run-length encoded (about a byte per
 * run, so long videos fit) with their box and area. JSON and exports read these records without re-encoding.
 */
export class OutputStore {
  private readonly frames = new Map<number, ResultObject[]>();
  /** Bytes of all stored run lengths, kept as frames change: get_session reports it on every call. */
  private stored = 0;

  /**
   * Applies one frame's changes. The frame's other objects are decoded only when there are some (an edit of one
   * object on a frame that has others): the masks must be disjoint again with the new ones.
   */
  update(frame: number, changes: Map<number, ObjectChange>): void {
    const kept = (this.frames.get(frame) ?? []).filter((o) => !changes.has(o.id));
    const fresh = [...changes].flatMap(([id, c]) => (c ? [{ id, ...c }] : []));
    if (!fresh.length) return this.store(frame, kept);
    const all = [...kept.map((o) => ({ id: o.id, score: o.score, label: o.label, mask: cocoRleToMask(o.rle) })), ...fresh].sort((a, b) => a.id - b.id);
    const masks = disjointMasks(all);
    this.store(
      frame,
      all.map((o, i) => ({ id: o.id, score: o.score, box: maskBox(masks[i]) ?? ([0, 0, 0, 0] as Box), area: maskArea(masks[i]), rle: maskToCocoRle(masks[i]), ...(o.label !== undefined ? { label: o.label } : {}) })),
    );
  }

  /** The frame's objects sorted by id. */
  objects(frame: number): readonly ResultObject[] {
    return this.frames.get(frame) ?? [];
  }

  /** Removes an object from every frame (the others keep their masks). */
  removeObject(id: number): void {
    for (const [frame, objects] of this.frames) this.store(frame, objects.filter((o) => o.id !== id));
  }

  reset(): void {
    this.frames.clear();
    this.stored = 0;
  }

  /** Bytes held by the stored run lengths (one-byte strings). */
  bytes(): number {
    return this.stored;
  }

  private store(frame: number, objects: ResultObject[]) {
    this.stored += runBytes(objects) - runBytes(this.frames.get(frame) ?? []);
    if (objects.length) this.frames.set(frame, objects);
    else this.frames.delete(frame);
  }
}

const runBytes = (objects: readonly ResultObject[]) => objects.reduce((n, o) => n + o.rle.counts.length, 0);
