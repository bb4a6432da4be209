/**
 * Bounds every request is checked against before any work starts, so no single call can exhaust the process.
 * Generous for real use; a request beyond one gets a LIMIT_EXCEEDED error naming the limit.
 */
export const LIMITS = {
  /** Points in one prompt (one object's clicks, or one image call). */
  pointsPerPrompt: 64,
  /** Boxes in one prompt (exemplars). */
  boxesPerPrompt: 64,
  /** Text concepts in one call. */
  conceptsPerPrompt: 16,
  /** Characters of one text concept (the text encoder reads 32 tokens anyway). */
  textLength: 500,
  /** Objects one video session tracks at once. */
  objectsPerSession: 64,
  /** Frames of one video session (after stride): about an hour at 30 fps. */
  framesPerSession: 108_000,
  /** Pixels of one image or video frame. */
  pixels: 100_000_000,
  /** onnxruntime threads per operator. */
  threads: 256,
} as const;
