import type { z } from "zod";
import type { progressSchema } from "../export/json-schemas";
import { Sam3Error } from "../errors";
import type { RgbImage } from "../image/decode";
import { resizeAndThreshold } from "../masks/resize";
import { LIMITS } from "../limits";
import { checkBox, checkLimit, checkPoint, toPixelPrompt, type BoxPrompt, type PointPrompt } from "../prompts";
import type { LowResDetection, Sam3 } from "../sam3";
import { associate, binary, fillHoles, HotStart, suppressRecentlyOccluded, suppressShrunk } from "./association";
import type { FrameSource } from "./frame-source";
import type { FramePosition, TrackerFrame, TrackStep, VideoTracker } from "./object-tracker";
import { OutputStore, type ObjectChange } from "./output-store";
import type { PropagateRequest, VideoPrompt } from "./requests";
import type { VideoRules } from "./rules";

interface VideoObject {
  id: number;
  /** The concept that found it, for detector objects. */
  label?: string;
  origin: "detector" | "points";
  /** The detection score it was found with (detector objects' output score, as the reference reports it). */
  score?: number;
}

/** Concept prompt: text(s) and exemplar boxes, applied on every frame. */
interface Concept {
  texts: string[];
  boxes: BoxPrompt[];
  frame: number;
}

interface Clicks {
  points: PointPrompt[];
  box?: BoxPrompt;
}

export type PropagationProgress = z.infer<typeof progressSchema>;

type Direction = "forward" | "backward";

/** The video rules' bookkeeping of one full propagation (both its passes, as the reference keeps it). */
interface RunState {
  hotStart: HotStart;
  lastOccluded: Map<number, number>;
}

/** One video and everything prompted on it: objects, their per-frame masks, and propagation. */
export class VideoSession {
  lastUsed = Date.now();
  readonly outputs: OutputStore;
  private readonly objects = new Map<number, VideoObject>();
  private readonly removed = new Set<number>();
  private nextId = 1;
  private concept?: Concept;
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
    readonly tracker: VideoTracker,
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

  /**
   * Tracks through the video, yielding each frame's index once its results are final. With a concept, a frame is
   * final `hotstartDelay` frames later (or at the end of its pass): objects the hot-start rules remove meanwhile
   * never appear in a yielded frame. Progress counts processed frames.
   */
  async *propagate(request: PropagateRequest): AsyncGenerator<number> {
    this.checkIdle();
    if (!this.objects.size && !this.concept) throw new Sam3Error("BAD_REQUEST", "nothing to propagate: add a prompt first");
    const full = this.needsFullRun;
    // a full run tracks every object and detects new ones; otherwise only objects edited since the last run
    const only = full ? undefined : new Set(this.touched.keys());
    const start = request.start_frame_index === undefined ? this.firstPromptedFrame(full) : this.checkFrame(request.start_frame_index);
    const passes = this.passes(start, request.propagation_direction, request.max_frame_num_to_track);
    const detecting = full && this.concept !== undefined;
    if (detecting) this.restartDetections();
    const run: RunState = { hotStart: new HotStart(this.rules), lastOccluded: new Map() };
    const lag = detecting ? this.rules.hotstartDelay : 0;
    this.cancelRequested = false;
    this.progressState = { running: true, done: 0, total: passes.reduce((n, p) => n + p.frames.length, 0), fps: 0, cancelled: false };
    const began = performance.now();
    try {
      for (const pass of passes) {
        const held: number[] = [];
        for (const t of pass.frames) {
          if (this.cancelRequested) {
            this.progressState.cancelled = true;
            return;
          }
          const at = { t, reverse: pass.direction === "backward", numFrames: this.source.info.frames };
          // with nothing edited since the last run, the stored results are replayed
          if (!only || only.size) await this.trackFrame(await this.source.readFrame(t, pass.direction), at, detecting ? run : undefined, only);
          this.lastUsed = Date.now();
          this.progressState.done++;
          this.progressState.fps = (this.progressState.done * 1000) / (performance.now() - began);
          held.push(t);
          if (held.length > lag) yield held.shift()!;
        }
        yield* held;
      }
      this.needsFullRun = false;
      this.touched.clear();
    } finally {
      this.progressState.running = false;
      this.cancelRequested = false;
    }
  }

  /** A concept prompt answers at once with its frame's detections; propagation then redoes them with the video rules. */
  private async setConcept(frame: RgbImage, concept: Concept) {
    const detections = (await this.detect(frame, concept)).slice(0, LIMITS.objectsPerSession);
    // a new concept starts the session over, as in the official predictor
    this.clearPrompts();
    this.concept = concept;
    const { width, height } = this.source.info;
    const changes = new Map<number, ObjectChange>();
    for (const d of detections) {
      const id = this.newObject({ origin: "detector", label: d.label, score: d.score });
      changes.set(id, { mask: resizeAndThreshold(d.logits, d.size, d.size, width, height, 0), score: d.score, label: d.label });
    }
    this.outputs.update(concept.frame, changes);
  }

  /** A full run with a concept starts its detector objects over: the first frame's detections get their ids again. */
  private restartDetections() {
    const detected = [...this.objects.values()].filter((o) => o.origin === "detector").map((o) => o.id);
    if (!detected.length) return;
    for (const id of detected) this.dropObject(id, false);
    this.nextId = Math.min(...detected);
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

  /** Clicks make the frame one of the object's conditioning frames, remembered at once (as the reference does). */
  private async clickObject(image: RgbImage, t: number, id: number, clicks: Clicks) {
    const frame = await this.tracker.frame(image);
    const at = { t, reverse: false, numFrames: this.source.info.frames };
    const step = await this.tracker.prompt(frame, at, id, clicks);
    await this.tracker.remember(frame, at, [{ id, step, conditioning: true }], true);
    if (!this.objects.has(id)) this.newObject({ origin: "points" }, id);
    let perFrame = this.clicks.get(id);
    if (!perFrame) this.clicks.set(id, (perFrame = new Map()));
    perFrame.set(t, clicks);
    this.outputs.update(t, new Map([[id, this.change(id, step.lowRes, step)]]));
    this.touched.set(id, Math.min(t, this.touched.get(id) ?? t));
  }

  /** One frame: carry each object (clicked frames keep their result), then, with a concept, apply the video rules. */
  private async trackFrame(image: RgbImage, at: FramePosition, run: RunState | undefined, only?: Set<number>) {
    const frame = await this.tracker.frame(image);
    const ids = [...this.objects.keys()].filter((id) => (!only || only.has(id)) && !this.clicks.get(id)?.has(at.t) && this.started(id));
    const steps = new Map<number, TrackStep>();
    if (this.sam.device.remote) {
      // a Triton server runs the objects' graph calls side by side; here they would only share the same cores
      const tracked = await Promise.all(ids.map((id) => this.tracker.track(frame, at, id)));
      ids.forEach((id, i) => steps.set(id, tracked[i]));
    } else {
      for (const id of ids) steps.set(id, await this.tracker.track(frame, at, id));
    }
    if (run) return this.applyVideoRules(frame, at, run, steps);
    await this.tracker.remember(frame, at, [...steps].map(([id, step]) => ({ id, step, conditioning: false })), false);
    this.outputs.update(at.t, new Map([...steps].map(([id, step]) => [id, this.change(id, step.lowRes, step)])));
  }

  /**
   * SAM 3's detector-tracker rules on one frame (HF `Sam3VideoModel._det_track_one_frame`): detections are matched
   * to the tracked masks, hot start removes young objects that go unmatched or duplicate older ones, confirmed
   * objects are re-conditioned every reconditionEveryNthFrame frames, the most recently occluded of two overlapping
   * objects is hidden before the memories are written, and new objects start from their detection's mask.
   */
  private async applyVideoRules(frame: TrackerFrame, at: FramePosition, run: RunState, steps: Map<number, TrackStep>) {
    const r = this.rules;
    const detections = await this.detect(frame.image);
    const tracks = [...steps].map(([id, step]) => {
      const logits = fillHoles({ logits: step.lowRes, size: step.maskSize }, r.fillHoleArea);
      return { id, step, logits, mask: binary({ logits, size: step.maskSize }), group: this.objects.get(id)!.label ?? "" };
    });
    const dets = detections.map((d) => ({ ...d, mask: binary(d), group: d.label }));
    // detections and tracks of different concepts never match
    const births: number[] = [];
    const unmatched: number[] = [];
    const matchedTracks: number[][] = [];
    const confirmed = new Map<number, number>();
    for (const group of new Set([...tracks.map((t) => t.group), ...dets.map((d) => d.group)])) {
      const mine = dets.map((d, i) => ({ d, i })).filter((x) => x.d.group === group);
      const a = associate(tracks.filter((t) => t.group === group), mine.map((x) => x.d), r);
      births.push(...a.births.map((k) => mine[k].i));
      unmatched.push(...a.unmatched);
      matchedTracks.push(...a.matchedTracks);
      for (const [id, k] of a.confirmed) confirmed.set(id, mine[k].i);
    }
    births.sort((x, y) => x - y);
    const room = Math.max(0, LIMITS.objectsPerSession - this.objects.size);
    const born = births.slice(0, room).map((i) => ({ i, id: this.newObject({ origin: "detector", label: dets[i].label, score: dets[i].score }) }));
    const { removed: removedNow, hidden: longUnmatched } = run.hotStart.observe(at.t, at.reverse, born.map((b) => b.id), unmatched, matchedTracks);
    const recondition = new Set(at.t % r.reconditionEveryNthFrame === 0 ? [...confirmed.keys()].filter((id) => steps.get(id)!.objectScoreLogit > r.highConfThresh) : []);
    const hidden = new Set<number>();
    for (const group of new Set(tracks.map((t) => t.group))) {
      for (const id of suppressRecentlyOccluded(tracks.filter((t) => t.group === group), run.lastOccluded, at.t, at.reverse, r, removedNow)) hidden.add(id);
    }
    for (const t of tracks) if (hidden.has(t.id)) t.logits = new Float32Array(t.logits.length).fill(-10);
    // memories: each concept's masks without pixel-wise overlap, objects that shrink too much that way written as absent
    const remembered = new Map<number, Float32Array>();
    for (const group of new Set(tracks.map((t) => t.group))) {
      const mine = tracks.filter((t) => t.group === group);
      suppressShrunk(mine.map((t) => t.logits)).forEach((logits, k) => remembered.set(mine[k].id, logits));
    }
    await this.tracker.remember(
      frame,
      at,
      tracks.map((t) => ({ id: t.id, step: t.step, lowRes: remembered.get(t.id)!, objectScoreLogit: remembered.get(t.id)!.some((v) => v > 0) ? 10 : -10, conditioning: recondition.has(t.id) })),
      false,
    );
    const seeds = await Promise.all(born.map(async (b) => ({ id: b.id, step: await this.tracker.fromMask(frame, Uint8Array.from(dets[b.i].logits, (v) => (v >= 0.5 ? 1 : 0)), dets[b.i].size), conditioning: true })));
    await this.tracker.remember(frame, at, seeds, true);
    const changes = new Map<number, ObjectChange>();
    for (const t of tracks) {
      const confirmedBy = recondition.has(t.id) ? dets[confirmed.get(t.id)!] : undefined;
      changes.set(t.id, longUnmatched.has(t.id) ? null : this.change(t.id, confirmedBy ? confirmedBy.logits : t.logits, t.step, confirmedBy?.size));
    }
    for (const b of born) changes.set(b.id, this.change(b.id, fillHoles(dets[b.i], r.fillHoleArea), seeds.find((s) => s.id === b.id)!.step, dets[b.i].size));
    this.outputs.update(at.t, changes);
    for (const id of removedNow) this.dropObject(id);
  }

  /** An object's output on a frame from low-res logits: absent when nothing is above 0. */
  private change(id: number, logits: Float32Array, step: TrackStep, size = step.maskSize): ObjectChange {
    const { width, height } = this.source.info;
    const mask = resizeAndThreshold(logits, size, size, width, height, 0);
    if (!mask.data.some((v) => v)) return null;
    const o = this.objects.get(id);
    return { mask, score: o?.score ?? step.iouScore, label: o?.label };
  }

  /** An object can be tracked once it has a conditioning frame (clicked, or seeded by a detection). */
  private started(id: number): boolean {
    return this.objects.get(id)?.origin === "detector" || (this.clicks.get(id)?.size ?? 0) > 0;
  }

  private async detect(frame: RgbImage, concept = this.concept!): Promise<LowResDetection[]> {
    return this.sam.detectLowRes(frame, concept.texts, concept.boxes, { threshold: this.rules.scoreThresholdDetection, nms: this.rules.detNmsThresh });
  }

  private newObject(info: Omit<VideoObject, "id">, id = this.nextId): number {
    this.objects.set(id, { id, ...info });
    this.nextId = Math.max(this.nextId, id + 1);
    return id;
  }

  /** `final`: the id is retired for good (a user's removal); a restarted run may hand it out again. */
  private dropObject(id: number, final = true) {
    this.objects.delete(id);
    if (final) this.removed.add(id);
    this.clicks.delete(id);
    this.touched.delete(id);
    this.tracker.forget(id);
    this.outputs.removeObject(id);
  }

  private clearPrompts() {
    for (const id of this.objects.keys()) this.removed.add(id);
    this.objects.clear();
    this.clicks.clear();
    this.touched.clear();
    this.tracker.reset();
    this.outputs.reset();
    this.concept = undefined;
    this.needsFullRun = true;
  }

  /** The frames of each pass; after a forward pass the backward one starts a frame earlier, as the reference's does. */
  private passes(start: number, direction: "both" | Direction, maxFrames?: number) {
    const last = this.source.info.frames - 1;
    const span = maxFrames ?? last;
    const range = (from: number, to: number) => (from < 0 ? [] : Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => (to >= from ? from + i : from - i)));
    const forward = { direction: "forward" as Direction, frames: range(start, Math.min(last, start + span)) };
    const end = Math.max(0, start - span);
    const backward = { direction: "backward" as Direction, frames: direction === "both" ? (start > end ? range(start - 1, end) : []) : range(start, end) };
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
