import type { RgbImage } from "../image/decode";
import { maskBox, type Box } from "../masks/mask";
import { resizeAndThreshold } from "../masks/resize";
import type { VideoTracking } from "../pack/capabilities";
import type { BoxPrompt, PointPrompt } from "../prompts";
import type { Tensors } from "../runtime/engine";
import type { Sam3 } from "../sam3";
import { MemoryTracker, NO_OBJECT_LOGIT, type FramePosition, type MemoryTrackerOptions, type MemoryWrite, type TrackStep } from "./memory-tracker";

export type { FramePosition, MemoryWrite, TrackStep };

/** What a tracker reads of a frame: the image and, for the memory tracker, its backbone outputs. */
export interface TrackerFrame {
  image: RgbImage;
  features?: Tensors;
}

/**
 * Carries a session's objects from frame to frame. The session applies SAM 3's video rules around it: it asks for
 * each object's mask on a frame (`prompt`, `track`, `fromMask`), decides, then hands back the final masks to be
 * remembered (`remember`).
 */
export interface VideoTracker {
  readonly kind: VideoTracking;
  frame(image: RgbImage): Promise<TrackerFrame>;
  prompt(frame: TrackerFrame, at: FramePosition, id: number, clicks: { points: PointPrompt[]; box?: BoxPrompt }): Promise<TrackStep>;
  track(frame: TrackerFrame, at: FramePosition, id: number): Promise<TrackStep>;
  fromMask(frame: TrackerFrame, mask: Uint8Array, size: number): Promise<TrackStep>;
  remember(frame: TrackerFrame, at: FramePosition, writes: MemoryWrite[], fromPrompt: boolean): Promise<void>;
  /** A remembered frame of the object becomes one of its conditioning frames. */
  promote(id: number, t: number): void;
  forget(id: number): void;
  reset(): void;
  /** Bytes the tracker holds for the session. */
  bytes(): number;
}

/** SAM 3's memory tracker on the pack's memory graphs. */
export class MemoryVideoTracker implements VideoTracker {
  readonly kind = "memory" as const;
  private readonly memory: MemoryTracker;

  constructor(sam: Sam3, options: MemoryTrackerOptions = {}) {
    this.memory = new MemoryTracker(sam, options);
  }

  async frame(image: RgbImage): Promise<TrackerFrame> {
    return { image, features: await this.memory.features(image) };
  }

  prompt(frame: TrackerFrame, at: FramePosition, id: number, clicks: { points: PointPrompt[]; box?: BoxPrompt }) {
    return this.memory.prompt(frame.features!, at, id, clicks, frame.image);
  }

  track(frame: TrackerFrame, at: FramePosition, id: number) {
    return this.memory.track(frame.features!, at, id);
  }

  fromMask(frame: TrackerFrame, mask: Uint8Array, size: number) {
    return this.memory.fromMask(frame.features!, mask, size);
  }

  remember(frame: TrackerFrame, at: FramePosition, writes: MemoryWrite[], fromPrompt: boolean) {
    return this.memory.remember(frame.features!, at, writes, fromPrompt);
  }

  promote(id: number, t: number) {
    this.memory.promote(id, t);
  }

  forget(id: number) {
    this.memory.forget(id);
  }

  reset() {
    this.memory.reset();
  }

  bytes() {
    return this.memory.bytes();
  }
}

/**
 * The fallback for packs without memory graphs (public exports): each frame's tracker decoder is prompted with
 * the box of the object's last remembered mask, and with that mask's logits where the decoder takes a mask
 * (exports without a mask input track by the box alone).
 */
export class MaskPromptTracker implements VideoTracker {
  readonly kind;
  private readonly last = new Map<number, { lowRes: Float32Array; size: number; box: Box }>();

  constructor(
    private readonly sam: Sam3,
    private readonly presenceThreshold: number,
  ) {
    this.kind = sam.capabilities.maskRefinement ? ("mask prompts" as const) : ("box prompts" as const);
  }

  async frame(image: RgbImage): Promise<TrackerFrame> {
    return { image };
  }

  prompt(frame: TrackerFrame, _at: FramePosition, _id: number, clicks: { points: PointPrompt[]; box?: BoxPrompt }) {
    return this.segment(frame.image, { points: clicks.points, boxes: clicks.box ? [clicks.box] : undefined });
  }

  track(frame: TrackerFrame, _at: FramePosition, id: number) {
    const last = this.last.get(id);
    const box = last?.box ?? [0, 0, frame.image.width, frame.image.height];
    return this.segment(frame.image, { boxes: [{ box }], maskInput: this.sam.capabilities.maskRefinement ? last?.lowRes : undefined });
  }

  async fromMask(frame: TrackerFrame, mask: Uint8Array, size: number): Promise<TrackStep> {
    const box = maskBox(resizeAndThreshold(Float32Array.from(mask), size, size, frame.image.width, frame.image.height, 0.5));
    return box ? this.segment(frame.image, { boxes: [{ box }] }) : absent(size);
  }

  async remember(frame: TrackerFrame, _at: FramePosition, writes: MemoryWrite[]): Promise<void> {
    for (const w of writes) {
      const lowRes = w.lowRes ?? w.step.lowRes;
      const box = maskBox(resizeAndThreshold(lowRes, w.step.maskSize, w.step.maskSize, frame.image.width, frame.image.height, 0));
      // a lost object keeps its last good state, so it can be picked up again when it reappears
      if (box && (w.objectScoreLogit ?? w.step.objectScoreLogit) > 0) this.last.set(w.id, { lowRes, size: w.step.maskSize, box });
    }
  }

  promote(): void {}

  forget(id: number) {
    this.last.delete(id);
  }

  reset() {
    this.last.clear();
  }

  bytes() {
    let n = 0;
    for (const l of this.last.values()) n += l.lowRes.byteLength;
    return n;
  }

  private async segment(image: RgbImage, prompt: Parameters<Sam3["segment"]>[1]): Promise<TrackStep> {
    const result = await this.sam.segment(image, prompt, { candidates: false });
    const lowRes = result.lowResMask!;
    const size = Math.round(Math.sqrt(lowRes.length));
    const seen = (result.objectScore ?? 1) > this.presenceThreshold && result.objects[0].area > 0;
    return { lowRes: seen ? lowRes : new Float32Array(lowRes.length).fill(NO_OBJECT_LOGIT), maskSize: size, objectScoreLogit: seen ? 1 : -1, iouScore: result.objects[0].score, pointer: new Float32Array(0) };
  }
}

function absent(size: number): TrackStep {
  return { lowRes: new Float32Array(size * size).fill(NO_OBJECT_LOGIT), maskSize: size, objectScoreLogit: -1, iouScore: 0, pointer: new Float32Array(0) };
}
