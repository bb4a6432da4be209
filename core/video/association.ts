import type { Mask } from "../masks/mask";
import type { VideoRules } from "./rules";

/** A square low-res map of logits (the tracker's and detector's mask outputs), side `size`. */
export interface LowResMask {
  logits: Float32Array;
  size: number;
}

/** Pixels above 0 of a low-res map. */
export const binary = (m: LowResMask): Uint8Array => Uint8Array.from(m.logits, (v) => (v > 0 ? 1 : 0));

/** Intersection over union of two binary maps of one size (0 when both are empty). */
export function binaryIoU(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i] & b[i];
    union += a[i] | b[i];
  }
  return union ? inter / union : 0;
}

export interface Association {
  /** Detections that start new objects (index order). */
  births: number[];
  /** Non-empty tracks no detection overlaps at trkAssocIouThresh. */
  unmatched: number[];
  /** Each detection's tracks overlapping it at assocIouThresh or more (many-to-one). */
  matchedTracks: number[][];
  /** Track id -> the one high-confidence, high-IoU detection that confirms it (for re-conditioning). */
  confirmed: Map<number, number>;
}

/**
 * Matches one frame's detections to the tracks by mask IoU on the low-res masks, as the reference does: many
 * tracks may share a detection; a detection overlapping no track starts an object if it scores newDetThresh.
 */
export function associate(tracks: { id: number; mask: Uint8Array }[], detections: { mask: Uint8Array; score: number }[], rules: VideoRules): Association {
  const ious = detections.map((d) => tracks.map((t) => binaryIoU(d.mask, t.mask)));
  const nonEmpty = tracks.map((t) => t.mask.some((v) => v));
  const unmatched = tracks.filter((t, j) => nonEmpty[j] && !ious.some((row) => row[j] >= rules.trkAssocIouThresh)).map((t) => t.id);
  const births: number[] = [];
  const matchedTracks: number[][] = [];
  const confirmed = new Map<number, number>();
  detections.forEach((d, i) => {
    const row = ious[i];
    const isNew = d.score >= rules.newDetThresh && !row.some((iou) => iou >= rules.assocIouThresh);
    if (isNew) births.push(i);
    matchedTracks.push(tracks.filter((_, j) => row[j] >= rules.assocIouThresh).map((t) => t.id));
    if (!row.length || isNew || d.score < rules.highConfThresh) return;
    const best = row.indexOf(Math.max(...row));
    if (row[best] >= rules.highIouThresh) confirmed.set(tracks[best].id, i);
  });
  return { births, unmatched, matchedTracks, confirmed };
}

/**
 * The hot-start rules of one propagation run: an object that first appeared less than hotstartDelay frames ago
 * is removed once it went unmatched on hotstartUnmatchThresh frames, or shared a detection with an older object
 * on hotstartDupThresh frames. Keep-alive counters hide an object long unmatched (when the rules ask for it).
 */
export class HotStart {
  private readonly firstFrame = new Map<number, number>();
  private readonly unmatchedFrames = new Map<number, number>();
  private readonly duplicateFrames = new Map<string, number>();
  private readonly removed = new Set<number>();
  private readonly keepAlive = new Map<number, number>();
  private reverse = false;

  constructor(private readonly rules: VideoRules) {}

  /** Records frame t of a pass (forward or in reverse): the objects to remove there, and those to hide on it. */
  observe(t: number, reverse: boolean, born: number[], unmatched: number[], matchedTracks: number[][]): { removed: Set<number>; hidden: Set<number> } {
    const r = this.rules;
    this.reverse = reverse;
    for (const id of born) {
      if (!this.firstFrame.has(id)) this.firstFrame.set(id, t);
      this.keepAlive.set(id, r.initTrkKeepAlive);
    }
    for (const id of new Set(matchedTracks.flat())) this.keepAlive.set(id, Math.min(r.maxTrkKeepAlive, (this.keepAlive.get(id) ?? 0) + 1));
    for (const id of unmatched) {
      this.unmatchedFrames.set(id, (this.unmatchedFrames.get(id) ?? 0) + 1);
      this.keepAlive.set(id, Math.max(r.minTrkKeepAlive, (this.keepAlive.get(id) ?? 0) - 1));
    }
    const cutoff = this.reverse ? t + this.rules.hotstartDelay : t - this.rules.hotstartDelay;
    const young = (id: number) => (this.reverse ? this.first(id) < cutoff : this.first(id) > cutoff);
    const out = new Set<number>();
    const hidden = new Set<number>();
    for (const [id, n] of this.unmatchedFrames) {
      if (this.removed.has(id)) continue;
      if (n >= r.hotstartUnmatchThresh && young(id)) out.add(id);
      else if (!r.suppressUnmatchedOnlyWithinHotstart && (this.keepAlive.get(id) ?? 0) <= 0) hidden.add(id);
    }
    for (const ids of matchedTracks) {
      if (ids.length < 2) continue;
      // the object that appeared first (in the direction of travel) keeps the detection
      const first = ids.reduce((a, b) => ((this.reverse ? this.first(b) > this.first(a) : this.first(b) < this.first(a)) ? b : a));
      for (const id of ids) if (id !== first) this.duplicateFrames.set(`${first},${id}`, (this.duplicateFrames.get(`${first},${id}`) ?? 0) + 1);
    }
    for (const [pair, n] of this.duplicateFrames) {
      const id = Number(pair.split(",")[1]);
      if (!this.removed.has(id) && !out.has(id) && young(id) && n >= this.rules.hotstartDupThresh) out.add(id);
    }
    for (const id of out) this.removed.add(id);
    return { removed: out, hidden };
  }

  /** Objects clicked rather than detected never count as young. */
  private first(id: number): number {
    return this.firstFrame.get(id) ?? (this.reverse ? Number.MAX_SAFE_INTEGER : -Number.MAX_SAFE_INTEGER);
  }
}

/**
 * Of two objects overlapping at least the occlusion threshold, the one occluded (empty or hidden) most recently is
 * hidden on this frame; one never occluded hides nobody's rival. Returns the ids to hide and updates `lastOccluded`.
 */
export function suppressRecentlyOccluded(tracks: { id: number; mask: Uint8Array }[], lastOccluded: Map<number, number>, t: number, reverse: boolean, rules: VideoRules, removed: Set<number>): Set<number> {
  const NEVER = -1;
  // an object removed on this frame by hot start counts as always occluded
  const last = tracks.map((o) => lastOccluded.get(o.id) ?? (removed.has(o.id) ? 100000 : NEVER));
  const later = (a: number, b: number) => (reverse ? a < b : a > b);
  const hidden = new Set<number>();
  for (let i = 0; i < tracks.length; i++) {
    for (let j = i + 1; j < tracks.length; j++) {
      if (binaryIoU(tracks[i].mask, tracks[j].mask) < rules.suppressOverlappingBasedOnRecentOcclusionThreshold) continue;
      if (later(last[i], last[j]) && last[j] > NEVER) hidden.add(tracks[i].id);
      if (later(last[j], last[i]) && last[i] > NEVER) hidden.add(tracks[j].id);
    }
  }
  tracks.forEach((o, i) => {
    if (hidden.has(o.id) || !o.mask.some((v) => v)) lastOccluded.set(o.id, t);
    else lastOccluded.set(o.id, last[i]);
  });
  return hidden;
}

/**
 * Before memories are written: each pixel goes to the object with the highest logit there, and an object losing
 * more than 70% of its area that way is pushed below -10 everywhere (its memory then says "not here").
 */
export function suppressShrunk(masks: Float32Array[]): Float32Array[] {
  if (masks.length <= 1) return masks;
  const n = masks[0].length;
  const best = new Int32Array(n);
  for (let p = 0; p < n; p++) {
    let k = 0;
    for (let i = 1; i < masks.length; i++) if (masks[i][p] > masks[k][p]) k = i;
    best[p] = k;
  }
  return masks.map((m, i) => {
    let before = 0;
    let after = 0;
    for (let p = 0; p < n; p++) {
      if (m[p] > 0) {
        before++;
        if (best[p] === i) after++;
      }
    }
    return after / Math.max(before, 1) >= 0.3 ? m : Float32Array.from(m, (v) => Math.min(v, -10));
  });
}

/**
 * Small holes (background components up to maxArea pixels) are filled with a logit of 0.1 and small specks
 * (foreground components up to maxArea and half the mask's area) cleared to -0.1; 8-connected, as the
 * reference's connected components.
 */
export function fillHoles(m: LowResMask, maxArea: number): Float32Array {
  const out = m.logits.slice();
  if (maxArea <= 0) return out;
  const bg = Uint8Array.from(out, (v) => (v <= 0 ? 1 : 0));
  for (const c of components(bg, m.size)) if (c.length <= maxArea) for (const p of c) out[p] = 0.1;
  const fg = Uint8Array.from(out, (v) => (v > 0 ? 1 : 0));
  const fgArea = fg.reduce((n, v) => n + v, 0);
  const limit = Math.min(Math.floor(fgArea / 2), maxArea);
  for (const c of components(fg, m.size)) if (c.length <= limit) for (const p of c) out[p] = -0.1;
  return out;
}

/** The 8-connected components of the set pixels, each as its pixel indices. */
function components(set: Uint8Array, size: number): number[][] {
  const seen = new Uint8Array(set.length);
  const out: number[][] = [];
  const stack: number[] = [];
  for (let start = 0; start < set.length; start++) {
    if (!set[start] || seen[start]) continue;
    const pixels: number[] = [];
    seen[start] = 1;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      pixels.push(p);
      const x = p % size;
      const y = (p - x) / size;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= size || ny >= size) continue;
          const q = ny * size + nx;
          if (set[q] && !seen[q]) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    out.push(pixels);
  }
  return out;
}

/** Masks made disjoint: each pixel goes to the highest-scoring object that claims it. Input order is kept. */
export function disjointMasks(objects: { mask: Mask; score: number }[]): Mask[] {
  if (!objects.length) return [];
  const { width, height } = objects[0].mask;
  const taken = new Uint8Array(width * height);
  const out: Mask[] = new Array(objects.length);
  const order = objects.map((_, i) => i).sort((a, b) => objects[b].score - objects[a].score);
  for (const i of order) {
    const src = objects[i].mask.data;
    const data = new Uint8Array(src.length);
    for (let p = 0; p < src.length; p++) {
      if (src[p] && !taken[p]) {
        data[p] = 1;
        taken[p] = 1;
      }
    }
    out[i] = { width, height, data };
  }
  return out;
}
