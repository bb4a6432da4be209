import { Sam3Error } from "../errors";
import { checkRange } from "../runtime/options";

/** The official SAM 3 video predictor's thresholds (facebookresearch/sam3's video inference and transformers' Sam3VideoModel), in one place. */
export const VIDEO_RULES = Object.freeze({
  /** Detector: keep detections scoring above this on every frame. */
  detectionThreshold: 0.5,
  /** Detector: mask-IoU suppression among one frame's detections. */
  detectionNms: 0.1,
  /** A detection overlapping every track below `newObjectMaxIoU` starts a new object if it scores at least this. */
  newObjectScore: 0.7,
  newObjectMaxIoU: 0.1,
  /** A detection overlapping a track at least this much confirms it. */
  confirmIoU: 0.5,
  /** Hot start: an object younger than this many frames ... */
  hotStartFrames: 15,
  /** ... is dropped when it goes unmatched on this many frames ... */
  hotStartUnmatched: 8,
  /** ... or duplicates an older object (mask IoU >= confirmIoU) on this many. */
  hotStartDuplicates: 8,
  /** Every this many frames, confident tracks are re-conditioned on their matching detection. */
  reconditionEvery: 16,
  /** Of two tracks overlapping this much on a frame, the weaker is hidden there (occlusion). */
  occlusionIoU: 0.7,
  /** The tracker's object-score probability above which an object counts as visible on a frame. */
  presenceThreshold: 0.5,
  /** Specks and holes up to this many pixels are cleaned up. */
  minRegionArea: 16,
});

export type VideoRules = Record<keyof typeof VIDEO_RULES, number>;

/** Every override names a known rule and is a finite number >= 0 (reconditionEvery at least 1 frame). */
export function checkRules(overrides: Partial<VideoRules> = {}): void {
  if (typeof overrides !== "object" || overrides === null) throw new Sam3Error("BAD_OPTION", "rules must be an object of thresholds");
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in VIDEO_RULES)) throw new Sam3Error("BAD_OPTION", `unknown rule ${name.slice(0, 40)} (known: ${Object.keys(VIDEO_RULES).join(", ")})`);
    checkRange(`rules.${name}`, value, name === "reconditionEvery" ? 1 : 0, Number.MAX_SAFE_INTEGER, false);
  }
}
