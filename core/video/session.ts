import type { z } from "zod";
import type { progressSchema } from "../export/json-schemas";
import { Sam3Error } from "../errors";
import type { RgbImage } from "../image/decode";
import { maskIoU, type Box, type Mask } from "../masks/mask";
import { LIMITS } from "../limits";
import { checkBox, checkLimit, checkPoint, toPixelPrompt, type BoxPrompt, type PointPrompt } from "../prompts";
import type { Sam3 } from "../sam3";
import { associateDetections, HotStartFilter, occludedTracks, type TrackMask } from "./association";
import type { FrameSource } from "./frame-source";
import type { ObjectTracker, TrackState } from "./object-tracker";
import { OutputStore, type ObjectChange } from "./output-store";
import type { PropagateRequest, VideoPrompt } from "./requests";
import type { VideoRules } from "./rules";

interface VideoObject {
  id: number;
  /** The concept that found it, for detector objects. */
  label?: string;
  origin: "detector" | "points";
}

/** Concept prompt: text(s) and exemplar boxes, applied on every frame. */
interface Concept {
  texts: string[];
  boxes: BoxPrompt[];
  frame: number;
}

interface Detection {
  mask: Mask;
  score: number;
  box: Box;
  label: string;
}

interface Clicks {
  points: PointPrompt[];
  box?: BoxPrompt;
}

export type PropagationProgress = z.infer<typeof progressSchema>;

type Direction = "forward" | "backward";

/** One frame of a propagation pass: what trackFrame needs besides the frame. */
interface PassStep {
  t: number;
  /** Index of the frame within its pass (re-conditioning counts from the pass start). */
  step: number;
  states: Map<number, TrackState>;
  hotStart: HotStartFilter;
  /** Partial re-runs: the objects edited since the last run. */
  only?: Set<number>;
}

/** One video and everything prompted on it: objects, their per-frame masks, and propagation. */
export class VideoSession {
  lastUsed = Date.now();
  readonly outputs: OutputStore;
  private readonly objects = new Map<number, VideoObject>();
  private readonly removed = new Set<number>();
  private nextId = 1;
  private concept?: Concept;
  /** The concept prompt's detections on its frame: where full propagations start them. */
  private readonly seeds = new Map<number, Detection>();
  private readonly clicks = new Map<number, Map<number, Clicks>>();
  /** Objects edited by clicks since the last propagation, with the first edited frame: the next run re-runs only them. */
  private readonly touched = new Map<number, number>();
  private needsFullRun = true;
  private cancelRequested = false;
  private progressState: PropagationProgress = { running: false, done: 0, total: 0, fps: 0, cancelled: false };

  constructor(
    readonly id: string,
    readonly source: FrameSource,
    private readonly sam: Sam3,
    private readonly tracker: ObjectTracker,
    private readonly rules: VideoRules,
  ) {
    this.outputs = new OutputStore();
  }

  get progress(): PropagationProgress {
    return { ...this.progressState };
  }

  objectIds(): number[] {
    return [...this.objects.keys()].sort((a, b) => a - b);
  }

  /** Whether a concept or an object was ever prompted (and not all removed): an export then has something to say. */
  hasPrompts(): boolean {
    return this.concept !== undefined || this.objects.size > 0;
  }

  /** Validates the whole prompt first and changes the session only once the model has answered; returns its frame. */
  async addPrompt(prompt: VideoPrompt): Promise<number> {
    this.checkIdle();
    const t = this.checkFrame(prompt.frame);
    const { width, height } = this.source.info;
    const { points = [], boxes = [] } = toPixelPrompt(prompt, width, height, prompt.coordinates);
    for (const p of points) checkPoint(p, width, height);
    for (const b of boxes) checkBox(b, width, height);
    if (prompt.objectId !== undefined) {
      if (prompt.text !== undefined) throw new Sam3Error("BAD_REQUEST", "obj_id goes with points or a box, not with text (text finds every instance)");
      this.sam.require(points.length ? "clicks" : "box");
      const clicks = this.checkClicks(t, prompt.objectId, points, boxes);
      await this.clickObject(await this.source.readFrame(t), t, prompt.objectId, clicks);
    } else if (points.length) {
      throw new Sam3Error("BAD_REQUEST", "points need an obj_id: the object they add or refine");
    } else if (prompt.text !== undefined || boxes.length) {
      const texts = prompt.text === undefined ? ["visual"] : [prompt.text].flat().map((s) => s.trim());
      if (texts.some((s) => !s)) throw new Sam3Error("BAD_PROMPT", "the text prompt is empty");
      this.sam.require("textVideo");
      if (boxes.length) this.sam.require("exemplarBoxes");
      await this.setConcept(await this.source.readFrame(t), { texts, boxes, frame: t });
    } else {
      throw new Sam3Error("BAD_REQUEST", "add_prompt needs text, points with an obj_id, or bounding_boxes");
    }
    return t;
  }

  removeObject(id: number): void {
    this.checkIdle();
    if (!this.objects.has(id)) throw this.unknownObject(id);
    this.dropObject(id);
  }

  reset(): void {
    this.checkIdle();
    this.clearPrompts();
  }

  cancel(): boolean {
    if (this.progressState.running) this.cancelRequested = true;
    return this.progressState.running;
  }

  /** Tracks through the video, yielding each frame's index as soon as its results are stored. */
  async *propagate(request: PropagateRequest): AsyncGenerator<number> {
    this.checkIdle();
    if (!this.objects.size && !this.concept) throw new Sam3Error("BAD_REQUEST", "nothing to propagate: add a prompt first");
    const full = this.needsFullRun;
    // a full run tracks every object and detects new ones; otherwise only objects edited since the last run
    const only = full ? undefined : new Set(this.touched.keys());
    const start = request.start_frame_index === undefined ? this.firstPromptedFrame(full) : this.checkFrame(request.start_frame_index);
    const passes = this.passes(start, request.propagation_direction, request.max_frame_num_to_track);
    this.cancelRequested = false;
    this.progressState = { running: true, done: 0, total: passes.reduce((n, p) => n + p.frames.length - (p.skipFirst ? 1 : 0), 0), fps: 0, cancelled: false };
    const began = performance.now();
    try {
      for (const pass of passes) {
        const states = new Map<number, TrackState>();
        const hotStart = new HotStartFilter(this.rules);
        for (const [step, t] of pass.frames.entries()) {
          if (this.cancelRequested) {
            this.progressState.cancelled = true;
            return;
          }
          // with nothing edited since the last run, the stored results are replayed
          if (!only || only.size) await this.trackFrame(await this.source.readFrame(t, pass.direction), { t, step, states, hotStart, only });
          this.lastUsed = Date.now();
          if (pass.skipFirst && step === 0) continue;
          this.progressState.done++;
          this.progressState.fps = (this.progressState.done * 1000) / (performance.now() - began);
          yield t;
        }
      }
      this.needsFullRun = false;
      this.touched.clear();
    } finally {
      this.progressState.running = false;
      this.cancelRequested = false;
    }
  }

  private async setConcept(frame: RgbImage, concept: Concept) {
    const detections = (await this.detect(frame, concept)).slice(0, LIMITS.objectsPerSession);
    // a new concept starts the session over, as in the official predictor
    this.clearPrompts();
    this.concept = concept;
    const changes = new Map<number, ObjectChange>();
    for (const detection of detections) {
      const id = this.newObject({ origin: "detector", label: detection.label });
      this.seeds.set(id, detection);
      changes.set(id, { mask: detection.mask, score: detection.score, label: detection.label });
    }
    this.outputs.update(concept.frame, changes);
  }

  /** The clicks an object will have on frame t with these added, refused before anything is stored. */
  private checkClicks(t: number, id: number, points: PointPrompt[], boxes: BoxPrompt[]): Clicks {
    if (boxes.length > 1) throw new Sam3Error("BAD_REQUEST", "one box per object: give obj_id with a single box");
    if (this.removed.has(id)) throw new Sam3Error("BAD_REQUEST", `object ${id} was removed; ids are never reused, pick a new one`);
    if (!this.objects.has(id)) checkLimit("objectsPerSession", this.objects.size + 1, "objects in one session");
    // clicks on one frame accumulate, as refinement does in SAM's interactive tools
    const previous = this.clicks.get(id)?.get(t);
    const clicks: Clicks = { points: [...(previous?.points ?? []), ...points], box: boxes[0] ?? previous?.box };
    checkLimit("pointsPerPrompt", clicks.points.length, "points on one object and frame");
    if (!clicks.points.length && !clicks.box) throw new Sam3Error("BAD_REQUEST", `object ${id} needs points or a box on frame ${t}`);
    return clicks;
  }

  private async clickObject(frame: RgbImage, t: number, id: number, clicks: Clicks) {
    const result = await this.tracker.fromPrompt(frame, clicks);
    if (!this.objects.has(id)) this.newObject({ origin: "points" }, id);
    let perFrame = this.clicks.get(id);
    if (!perFrame) this.clicks.set(id, (perFrame = new Map()));
    perFrame.set(t, clicks);
    this.outputs.update(t, new Map([[id, result.present ? { mask: result.mask, score: result.score, label: this.objects.get(id)?.label } : null]]));
    this.touched.set(id, Math.min(t, this.touched.get(id) ?? t));
  }

  /** One frame of propagation: carry or re-prompt each object, then (full runs) detect, associate and filter. */
  private async trackFrame(frame: RgbImage, { t, step, states, hotStart, only }: PassStep) {
    const ids = only ? [...only].filter((id) => this.objects.has(id)) : [...this.objects.keys()];
    const current = new Map<number, { mask: Mask; score: number }>();
    const lost = new Set<number>();
    for (const id of ids) {
      const clicks = this.clicks.get(id)?.get(t);
      const seed = this.concept?.frame === t && !states.has(id) ? this.seeds.get(id) : undefined;
      const state = states.get(id);
      if (!clicks && !seed && state === undefined) continue;
      const result = clicks
        ? await this.tracker.fromPrompt(frame, clicks)
        : seed
          ? await this.tracker.fromPrompt(frame, { points: [], box: { box: seed.box } })
          : await this.tracker.step(frame, state);
      states.set(id, result.state);
      if (seed) current.set(id, { mask: seed.mask, score: seed.score });
      else if (result.present) current.set(id, { mask: result.mask, score: result.score });
      else lost.add(id);
    }
    if (!only && this.concept) await this.associate(frame, current, states, hotStart, step);
    const tracks: TrackMask[] = [...current].map(([id, o]) => ({ id, ...o }));
    for (const id of occludedTracks(tracks, this.rules)) current.delete(id), lost.add(id);
    const changes = new Map<number, ObjectChange>([...lost].map((id) => [id, null]));
    for (const [id, o] of current) changes.set(id, { ...o, label: this.objects.get(id)?.label });
    this.outputs.update(t, changes);
  }

  private async associate(frame: RgbImage, current: Map<number, { mask: Mask; score: number }>, states: Map<number, TrackState>, hotStart: HotStartFilter, step: number) {
    const detections = await this.detect(frame);
    const tracks: TrackMask[] = [...current].map(([id, o]) => ({ id, ...o }));
    const { matches, births } = associateDetections(tracks, detections, this.rules);
    for (const id of this.objects.keys()) {
      if (!hotStart.onProbation(id)) continue;
      const mine = current.get(id);
      const duplicate = !!mine && tracks.some((older) => older.id < id && maskIoU(older.mask, mine.mask) >= this.rules.confirmIoU);
      if (hotStart.observe(id, matches.has(id), duplicate)) {
        this.dropObject(id);
        current.delete(id);
      }
    }
    if (step > 0 && step % this.rules.reconditionEvery === 0) {
      for (const [id, d] of matches) {
        const detection = detections[d];
        if (detection.score < this.rules.newObjectScore || !current.has(id)) continue;
        states.set(id, (await this.tracker.fromPrompt(frame, { points: [], box: { box: detection.box } })).state);
        current.set(id, { mask: detection.mask, score: current.get(id)!.score });
      }
    }
    for (const d of births) {
      // past the session's object limit new instances are not tracked
      if (this.objects.size >= LIMITS.objectsPerSession) break;
      const detection = detections[d];
      const id = this.newObject({ origin: "detector", label: detection.label });
      hotStart.born(id);
      states.set(id, (await this.tracker.fromPrompt(frame, { points: [], box: { box: detection.box } })).state);
      current.set(id, { mask: detection.mask, score: detection.score });
    }
  }

  private async detect(frame: RgbImage, concept = this.concept!): Promise<Detection[]> {
    const { texts, boxes } = concept;
    const result = await this.sam.segment(frame, { text: texts, boxes }, { threshold: this.rules.detectionThreshold, nms: this.rules.detectionNms, minRegionArea: this.rules.minRegionArea });
    return result.objects.map((o) => ({ mask: o.mask, score: o.score, box: o.box, label: o.label! }));
  }

  private newObject(info: Omit<VideoObject, "id">, id = this.nextId): number {
    this.objects.set(id, { id, ...info });
    this.nextId = Math.max(this.nextId, id + 1);
    return id;
  }

  private dropObject(id: number) {
    this.objects.delete(id);
    this.removed.add(id);
    this.seeds.delete(id);
    this.clicks.delete(id);
    this.touched.delete(id);
    this.outputs.removeObject(id);
  }

  private clearPrompts() {
    for (const id of this.objects.keys()) this.removed.add(id);
    this.objects.clear();
    this.seeds.clear();
    this.clicks.clear();
    this.touched.clear();
    this.outputs.reset();
    this.concept = undefined;
    this.needsFullRun = true;
  }

  private passes(start: number, direction: "both" | Direction, maxFrames?: number) {
    const last = this.source.info.frames - 1;
    const span = maxFrames ?? last;
    const range = (from: number, to: number) => Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => (to >= from ? from + i : from - i));
    const forward = { direction: "forward" as Direction, frames: range(start, Math.min(last, start + span)), skipFirst: false };
    const backward = { direction: "backward" as Direction, frames: range(start, Math.max(0, start - span)), skipFirst: direction === "both" };
    return direction === "forward" ? [forward] : direction === "backward" ? [backward] : [forward, backward];
  }

  /** Where a propagation starts by default: the first prompted frame, or for a re-run the first edited one. */
  private firstPromptedFrame(full: boolean): number {
    const frames = full ? [...this.clicks.values()].flatMap((perFrame) => [...perFrame.keys()]) : [...this.touched.values()];
    if (full && this.concept) frames.push(this.concept.frame);
    return frames.length ? Math.min(...frames) : 0;
  }

  checkFrame(index: number): number {
    const { frames } = this.source.info;
    if (!Number.isInteger(index) || index < 0 || index >= frames) {
      throw new Sam3Error("BAD_REQUEST", `frame_index ${index} is out of range: the video has frames 0..${frames - 1}`);
    }
    return index;
  }

  private checkIdle() {
    this.lastUsed = Date.now();
    if (this.progressState.running) {
      throw new Sam3Error("BAD_REQUEST", `session ${this.id} is propagating; cancel_propagation or wait for it to finish`);
    }
  }

  private unknownObject(id: number) {
    return new Sam3Error("UNKNOWN_OBJECT", `session ${this.id} has no object ${id} (objects: ${this.objectIds().join(", ") || "none"})`);
  }
}
