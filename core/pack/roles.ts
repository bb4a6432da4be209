/**
 * The graphs a SAM 3 pack can hold, and the tensors each one must expose, by logical name.
 * A manifest maps every logical name to the graph's own tensor name, so one pipeline runs every export layout.
 */
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
  trackerVisionEncoder: { inputs: ["pixels"], outputs: ["emb0", "emb1", "emb2"] },
  trackerDecoder: { inputs: ["emb0", "emb1", "emb2", "points", "labels"], outputs: ["iouScores", "masks", "objectScore"] },
  trackerDecoderMask: {
    inputs: ["emb0", "emb1", "emb2", "points", "labels", "maskInput"],
    outputs: ["iouScores", "masks", "objectScore"],
  },
} as const;

export type Role = keyof typeof ROLES;
export const ROLE_NAMES = Object.keys(ROLES) as Role[];

/** Extra inputs a role may have in some layouts (e.g. a tracker decoder with its own box input). */
export const OPTIONAL_INPUTS: Partial<Record<Role, readonly string[]>> = {
  trackerDecoder: ["boxes"],
  trackerDecoderMask: ["boxes"],
};
