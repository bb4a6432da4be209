import type { Role } from "./roles";

/** How a pack carries a clicked or detected object from one video frame to the next. */
export type VideoTracking = "memory" | "mask prompts" | "box prompts";

/** What a pack can do, from the graphs it has: what every face reports and checks before it runs. */
export interface Capabilities {
  /** Text prompts: every instance of a concept (detector). */
  text: boolean;
  /** Exemplar boxes beside the text (the detector's box-taking decoder). */
  exemplarBoxes: boolean;
  /** Positive / negative clicks on one object (tracker). */
  clicks: boolean;
  /** One box around one object (tracker). */
  box: boolean;
  /** A previous mask as a prompt, so new clicks refine it (tracker decoder with a mask input). */
  maskRefinement: boolean;
  /**
   * Video tracking: SAM 3's memory tracker (memory encoder, memory attention and the video tracker decoders);
   * without those graphs, by the previous frame's mask and box, or (a tracker decoder without a mask input) by a
   * box from the previous frame's mask only; false without a tracker.
   */
  video: VideoTracking | false;
  /** Text prompts on a video: the detector finds the objects, the tracker follows them. */
  textVideo: boolean;
}

export type Capability = keyof Capabilities;

/** What each capability is called in messages and listings. */
export const CAPABILITY_LABELS: Record<Capability, string> = {
  text: "text prompts",
  exemplarBoxes: "exemplar boxes",
  clicks: "clicks",
  box: "box prompts",
  maskRefinement: "mask refinement",
  video: "video tracking",
  textVideo: "text prompts on video",
};

/** The graphs a capability needs, for a message that says what is missing. */
const NEEDS: Record<Capability, string> = {
  text: "a detector (vision encoder or backbone, text encoder and detector decoder)",
  exemplarBoxes: "a detector decoder with a box input",
  clicks: "a tracker (tracker vision encoder or backbone, and tracker decoder)",
  box: "a tracker (tracker vision encoder or backbone, and tracker decoder)",
  maskRefinement: "a tracker decoder with a mask input",
  video: "a tracker (tracker vision encoder or backbone, and tracker decoder)",
  textVideo: "both a detector and a tracker",
};

/** The graphs of SAM 3's memory tracker, beside the pack's trackerConstants. */
const MEMORY_TRACKER: readonly Role[] = ["backbone", "videoTrackerDecoder", "videoTrackerDecoderMask", "memoryEncoder", "memoryAttention"];

export function capabilitiesOf(roles: ReadonlySet<Role>, trackerConstants = false): Capabilities {
  const has = (role: Role) => roles.has(role);
  const memory = trackerConstants && MEMORY_TRACKER.every(has);
  // a backbone gives both heads their image features in one ViT pass
  const text = (has("visionEncoder") || has("backbone")) && has("textEncoder") && (has("detectorDecoder") || has("detectorDecoderBoxes"));
  const track = (has("trackerVisionEncoder") || has("backbone")) && has("trackerDecoder");
  const maskRefinement = track && has("trackerDecoderMask");
  return {
    text,
    exemplarBoxes: text && has("detectorDecoderBoxes"),
    clicks: track,
    box: track,
    maskRefinement,
    video: track ? (memory ? "memory" : maskRefinement ? "mask prompts" : "box prompts") : false,
    textVideo: text && track,
  };
}

/** One line: "text prompts, exemplar boxes, clicks, ..., video tracking (mask prompts)". */
export function describeCapabilities(c: Capabilities): string {
  const parts = (Object.keys(CAPABILITY_LABELS) as Capability[])
    .filter((k) => c[k])
    .map((k) => (k === "video" ? `${CAPABILITY_LABELS.video} (${c.video})` : CAPABILITY_LABELS[k]));
  return parts.length ? parts.join(", ") : "nothing";
}

/** Why a pack cannot do `capability` (what it needs and, when one is known, a preset that has it); undefined when it can. */
export function missingCapability(model: string, capabilities: Capabilities, capability: Capability, suggest?: (c: Capability) => string | undefined): string | undefined {
  if (capabilities[capability]) return undefined;
  const preset = suggest?.(capability);
  return `model ${model} cannot do ${CAPABILITY_LABELS[capability]}: it needs ${NEEDS[capability]}${preset ? `; the preset ${preset} has it` : ""}`;
}
