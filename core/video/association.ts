import { maskIoU, type Mask } from "../masks/mask";
import { VIDEO_RULES, type VideoRules } from "./rules";

export interface ScoredMask {
  mask: Mask;
  score: number;
}

export interface TrackMask extends ScoredMask {
  id: number;
}

export interface Association {
  /** Track id -> index of the detection that confirms it. */
  matches: Map<number, number>;
  /** Indices of detections that start new objects. */
  births: number[];
}

/**
 * Matches one frame's detections to the tracked objects by mask IoU: greedily, best pairs first, a pair at or
 * above confirmIoU confirms the track; a confident detection that overlaps no track starts a new object.
 */
export function associateDetections(tracks: TrackMask[], detections: ScoredMask[], rules: VideoRules = VIDEO_RULES): Association {
  const ious = detections.map((d) => tracks.map((t) => maskIoU(d.mask, t.mask)));
  const pairs: { track: number; detection: number; iou: number }[] = [];
  ious.forEach((row, detection) => row.forEach((iou, track) => iou >= rules.confirmIoU && pairs.push({ track, detection, iou })));
  pairs.sort((a, b) => b.iou - a.iou);
  const matches = new Map<number, number>();
  const usedDetections = new Set<number>();
  for (const { track, detection } of pairs) {
    if (matches.has(tracks[track].id) || usedDetections.has(detection)) continue;
    matches.set(tracks[track].id, detection);
    usedDetections.add(detection);
  }
  const births = detections
    .map((d, i) => i)
    .filter((i) => detections[i].score >= rules.newObjectScore && ious[i].every((iou) => iou < rules.newObjectMaxIoU));
  return { matches, births };
}

/** Ids of tracks hidden on this frame: of two overlapping at least occlusionIoU, the lower-scoring one. */
export function occludedTracks(tracks: TrackMask[], rules: VideoRules = VIDEO_RULES): Set<number> {
  const hidden = new Set<number>();
  const byScore = [...tracks].sort((a, b) => b.score - a.score);
  byScore.forEach((t, i) => {
    if (byScore.slice(0, i).some((better) => !hidden.has(better.id) && maskIoU(better.mask, t.mask) >= rules.occlusionIoU)) hidden.add(t.id);
  });
  return hidden;
}

/** Masks made disjoint: each pixel goes to the highest-scoring object that claims it. Input order is kept. */
export function disjointMasks(objects: ScoredMask[]): Mask[] {
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

interface Newborn {
  framesSeen: number;
  unmatched: number;
  duplicates: number;
}

/**
 * The hot-start filter: an object the detector starts is on probation for its first hotStartFrames frames; it is
 * dropped if it goes unmatched, or duplicates an older object, on too many of them.
 */
export class HotStartFilter {
  private readonly newborns = new Map<number, Newborn>();

  constructor(private readonly rules: VideoRules = VIDEO_RULES) {}

  born(id: number): void {
    this.newborns.set(id, { framesSeen: 0, unmatched: 0, duplicates: 0 });
  }

  /** Records one frame for an object on probation; true when it must be dropped. */
  observe(id: number, matched: boolean, duplicate: boolean): boolean {
    const n = this.newborns.get(id);
    if (!n) return false;
    n.framesSeen++;
    if (!matched) n.unmatched++;
    if (duplicate) n.duplicates++;
    const drop = n.unmatched >= this.rules.hotStartUnmatched || n.duplicates >= this.rules.hotStartDuplicates;
    if (drop || n.framesSeen >= this.rules.hotStartFrames) this.newborns.delete(id);
    return drop;
  }

  onProbation(id: number): boolean {
    return this.newborns.has(id);
  }
}
