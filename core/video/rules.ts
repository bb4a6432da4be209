import { Sam3Error } from "../errors";
import { checkRange } from "../runtime/options";

/**
 * SAM 3's video rules with the reference's names and defaults (HF `Sam3VideoConfig`, facebookresearch/sam3's video
 * inference), camel-cased. Mask comparisons run on the low-resolution masks, as the reference does.
 */
export const VIDEO_RULES = Object.freeze({
  /** Detector: keep detections scoring above this on every frame. */
  scoreThresholdDetection: 0.5,
  /** Detector: mask-IoU suppression among one frame's detections. */
  detNmsThresh: 0.1,
  /** A detection overlapping some track at least this much is not a new object (many tracks may share it). */
  assocIouThresh: 0.1,
  /** A track overlapping some detection at least this much is matched on the frame. */
  trkAssocIouThresh: 0.5,
  /** A detection matching no track starts a new object if it scores at least this. */
  newDetThresh: 0.7,
  /** Hot start: an object is on probation for this many frames after it first appears, and outputs lag this much. */
  hotstartDelay: 15,
  /** ... it is removed if unmatched on this many frames ... */
  hotstartUnmatchThresh: 8,
  /** ... or if it shares a detection with an older object on this many. */
  hotstartDupThresh: 8,
  /** Keep-alive counters: a new object starts at init, each frame with a detection overlapping it adds 1 (up to max), ... */
  initTrkKeepAlive: 30,
  maxTrkKeepAlive: 30,
  /** ... each unmatched frame takes 1 (down to min); at 0 or below the object is hidden on the frame ... */
  minTrkKeepAlive: -1,
  /** ... unless this is 1 (the default): then unmatched objects are only removed within hot start. */
  suppressUnmatchedOnlyWithinHotstart: 1,
  /** Of two objects overlapping this much, the one occluded most recently is hidden (before its memory is written). */
  suppressOverlappingBasedOnRecentOcclusionThreshold: 0.7,
  /** Holes and specks of the low-res masks up to this many pixels are filled / removed. */
  fillHoleArea: 16,
  /** On every frame whose index is a multiple of this, confirmed objects are re-conditioned... */
  reconditionEveryNthFrame: 16,
  /** ... when their detection scores above this, overlaps them at least highIouThresh, and the tracker's object score logit is above this too. */
  highConfThresh: 0.8,
  highIouThresh: 0.8,
  /** The fallback (mask-prompt) tracker: the object-score probability above which an object counts as visible. */
  presenceThreshold: 0.5,
});

export type VideoRules = Record<keyof typeof VIDEO_RULES, number>;

const WHOLE = new Set(["hotstartDelay", "hotstartUnmatchThresh", "hotstartDupThresh", "fillHoleArea", "reconditionEveryNthFrame", "initTrkKeepAlive", "maxTrkKeepAlive", "minTrkKeepAlive", "suppressUnmatchedOnlyWithinHotstart"]);
/** Lower bounds other than 0. */
const MIN: Partial<Record<string, number>> = { reconditionEveryNthFrame: 1, minTrkKeepAlive: -Number.MAX_SAFE_INTEGER };
const MAX: Partial<Record<string, number>> = { suppressUnmatchedOnlyWithinHotstart: 1 };

/** Every override names a known rule and is a finite number >= 0 (counts whole, reconditionEveryNthFrame at least 1, minTrkKeepAlive any, the switch 0 or 1). */
export function checkRules(overrides: Partial<VideoRules> = {}): void {
  if (typeof overrides !== "object" || overrides === null) throw new Sam3Error("BAD_OPTION", "rules must be an object of thresholds");
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in VIDEO_RULES)) throw new Sam3Error("BAD_OPTION", `unknown rule ${name.slice(0, 40)} (known: ${Object.keys(VIDEO_RULES).join(", ")})`);
    checkRange(`rules.${name}`, value, MIN[name] ?? 0, MAX[name] ?? Number.MAX_SAFE_INTEGER, WHOLE.has(name));
  }
}
