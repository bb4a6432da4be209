/**
 * The graphs a SAM 3 pack can hold, and the tensors each one must expose, by logical name.
 * A manifest maps every logical name to the graph's own tensor name, so one pipeline runs every export layout.
 */
const EMBEDDINGS = ["emb0", "emb1", "emb2"] as const;
const POINTS = ["points", "labels"] as const;
const VIDEO_TRACKER_OUTPUTS = ["masks", "iouScores", "objectScore", "objectPointers"] as const;

export const ROLES = {
  visionEncoder: { inputs: ["pixels"], outputs: ["feat0", "feat1", "feat2", "pos2"] },
  textEncoder: { inputs: ["inputIds", "attentionMask"], outputs: ["textFeatures"] },
  detectorDecoder: {
    inputs: ["feat0", "feat1", "feat2", "pos2", "textFeatures", "textMask"],
    outputs: ["masks", "boxes", "logits", "presence"],
  },
  detectorDecoderBoxes: {
    inputs: ["feat0", "feat1", "feat2", "pos2", "textFeatures", "textMask", "boxes", "boxLabels"],
    outputs: ["masks", "boxes", "logits", "presence"],
  },
  trackerVisionEncoder: { inputs: ["pixels"], outputs: [...EMBEDDINGS] },
  trackerDecoder: { inputs: [...EMBEDDINGS, ...POINTS], outputs: ["iouScores", "masks", "objectScore"] },
  trackerDecoderMask: {
    inputs: [...EMBEDDINGS, ...POINTS, "maskInput"],
    outputs: ["iouScores", "masks", "objectScore"],
  },
  /** One ViT pass for both heads: the detector's FPN features and the tracker's embeddings of one frame. */
  backbone: {
    inputs: ["pixels"],
    outputs: ["feat0", "feat1", "feat2", "pos2", ...EMBEDDINGS, "trackerFeat2", "trackerPos2"],
  },
  videoTrackerDecoder: { inputs: [...EMBEDDINGS, ...POINTS], outputs: [...VIDEO_TRACKER_OUTPUTS] },
  videoTrackerDecoderMask: { inputs: [...EMBEDDINGS, ...POINTS, "maskInput"], outputs: [...VIDEO_TRACKER_OUTPUTS] },
  memoryEncoder: {
    inputs: ["trackerFeat2", "highResMasks", "objectScore", "maskFromPrompt"],
    outputs: ["memoryFeatures", "memoryPosEnc"],
  },
  memoryAttention: {
    inputs: ["trackerFeat2", "trackerPos2", "memoryFeatures", "memoryPosEnc", "memoryOffsets", "objectPointers", "pointerOffsets", "pointerMaxOffset"],
    outputs: ["emb2"],
  },
} as const satisfies Record<string, { inputs: readonly string[]; outputs: readonly string[] }>;

export type Role = keyof typeof ROLES;
export const ROLE_NAMES = Object.keys(ROLES) as Role[];

/** Extra inputs a role may have in some layouts (e.g. a tracker decoder with its own box input). */
export const OPTIONAL_INPUTS: Partial<Record<Role, readonly string[]>> = {
  trackerDecoder: ["boxes"],
  trackerDecoderMask: ["boxes"],
};

/**
 * The video tracker's learned constants (manifest role `trackerConstants`, not a graph): logical names a pack may
 * map to tensors of its constants index. A pack maps those its model has (e.g. no occlusion embedding).
 */
export const TRACKER_CONSTANT_NAMES = [
  "maskmemTposEnc",
  "noMemEmbed",
  "noMemPosEnc",
  "noObjPtr",
  "noObjEmbedSpatial",
  "objPtrTposProjWeight",
  "objPtrTposProjBias",
  "maskDownsampleWeight",
  "maskDownsampleBias",
] as const;
export type TrackerConstantName = (typeof TRACKER_CONSTANT_NAMES)[number];

const FLOAT = ["float32", "float16"];
const INTEGER = ["int64", "int32"];
const feature = { types: FLOAT, rank: 4 };

/**
 * What the pipeline feeds each logical input: the element types it converts to (engine.ts casts float32 to float16,
 * int64 to int32 or bool) and the rank. Every output is read as float (float16 widened).
 */
export const INPUT_TYPES: Record<string, { types: readonly string[]; rank: number }> = {
  pixels: feature,
  inputIds: { types: INTEGER, rank: 2 },
  attentionMask: { types: INTEGER, rank: 2 },
  textFeatures: { types: FLOAT, rank: 3 },
  textMask: { types: [...INTEGER, "bool"], rank: 2 },
  feat0: feature, feat1: feature, feat2: feature, pos2: feature,
  emb0: feature, emb1: feature, emb2: feature,
  boxes: { types: FLOAT, rank: 3 },
  boxLabels: { types: INTEGER, rank: 2 },
  points: { types: FLOAT, rank: 4 },
  labels: { types: INTEGER, rank: 3 },
  maskInput: feature,
};
export const OUTPUT_TYPES = FLOAT;
