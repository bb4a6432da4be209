import type { RgbImage } from "../image/decode";
import { maskBox, type Box, type Mask } from "../masks/mask";
import type { BoxPrompt, PointPrompt } from "../prompts";
import type { Sam3 } from "../sam3";
import { VIDEO_RULES } from "./rules";

/** What an object tracker remembers of one object between frames; opaque to the predictor. */
export type TrackState = unknown;

export interface TrackResult {
  mask: Mask;
  /** The tracker's confidence in the mask (its IoU estimate). */
  score: number;
  /** The object is visible on this frame. */
  present: boolean;
  state: TrackState;
}

/**
 * Carries one object from frame to frame. The predictor only talks to this interface, so a tracker with a memory
 * bank (memory encoder + memory attention graphs) can replace the mask-prompt one without changing the API.
 */
export interface ObjectTracker {
  /** The object from prompts on one frame: clicks and/or a box, in pixels. */
  fromPrompt(frame: RgbImage, prompt: { points: PointPrompt[]; box?: BoxPrompt }): Promise<TrackResult>;
  /** The object on a neighbouring frame, from its state on the one before. */
  step(frame: RgbImage, state: TrackState): Promise<TrackResult>;
}

interface MaskPromptState {
  lowResMask: Float32Array;
  box: Box;
}

/**
 * Tracks without a memory bank: each frame's tracker decoder is prompted with the box of the previous frame's mask,
 * and with that mask's low-res logits where the decoder takes a mask (exports without a mask input track by the
 * box alone).
 */
export class MaskPromptTracker implements ObjectTracker {
  constructor(
    private readonly sam: Sam3,
    private readonly presenceThreshold: number = VIDEO_RULES.presenceThreshold,
  ) {}

  async fromPrompt(frame: RgbImage, prompt: { points: PointPrompt[]; box?: BoxPrompt }): Promise<TrackResult> {
    return this.run(frame, { points: prompt.points, boxes: prompt.box ? [prompt.box] : undefined }, undefined);
  }

  async step(frame: RgbImage, state: TrackState): Promise<TrackResult> {
    const previous = state as MaskPromptState;
    const maskInput = this.sam.capabilities.maskRefinement ? previous.lowResMask : undefined;
    return this.run(frame, { boxes: [{ box: previous.box }], maskInput }, previous);
  }

  private async run(frame: RgbImage, prompt: Parameters<Sam3["segment"]>[1], previous: MaskPromptState | undefined): Promise<TrackResult> {
    const result = await this.sam.segment(frame, prompt, { candidates: false });
    const { mask, score } = result.objects[0];
    const box = maskBox(mask);
    const present = box !== null && (result.objectScore ?? 1) > this.presenceThreshold;
    // a lost object keeps its last good state, so it can be picked up again when it reappears
    const state: MaskPromptState = present ? { lowResMask: result.lowResMask!, box: box! } : previous ?? { lowResMask: result.lowResMask!, box: [0, 0, frame.width, frame.height] };
    return { mask, score, present, state };
  }
}
