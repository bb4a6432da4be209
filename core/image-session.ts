import { Sam3Error } from "./errors";
import { segmentationToJson, type ImageResults, type ObjectJson } from "./export/json";
import type { RgbImage } from "./image/decode";
import type { Box } from "./masks/mask";
import { checkBox, checkPoint, type PointPrompt } from "./prompts";
import type { Sam3, SegmentOptions, SegmentResult, SegmentedObject } from "./sam3";
import { bestCandidate } from "./tracker";

/** What applies to every prompt of a session: the detector's threshold and the masks' fineness. */
export type ImageSessionOptions = Pick<SegmentOptions, "threshold" | "fineness">;

/** An object of the session as JSON: text results carry their label, clicked objects their prompt and candidates. */
export interface ImageObjectJson extends ObjectJson {
  /** Clicked objects: the clicks and the box they were made from. */
  points?: PointPrompt[];
  prompt_box?: Box;
  /** One click alone: SAM's 3 candidates (model order) and the one shown. */
  candidates?: { score: number; area: number }[];
  chosen?: number;
}

/** What the user gave for one clicked object. */
interface ClickPrompt {
  points: PointPrompt[];
  box?: Box;
  /** The candidate the user picked; the best one when absent. */
  choice?: number;
}

interface Entry {
  id: number;
  label?: string;
  prompt?: ClickPrompt;
  object: SegmentedObject;
  json: ImageObjectJson;
}

/**
 * The objects a user builds on one image: text results (one group per concept, ids kept across re-runs by their
 * detector box) and clicked objects (each with its clicks, box and candidate choice). Ids are never reused
 * until `clear()` starts over.
 */
export class ImageSession {
  private readonly entries = new Map<number, Entry>();
  /** Per concept: the boxes of the results the user removed, so a re-run does not bring them back. */
  private readonly concepts = new Map<string, Box[]>();
  private nextId = 1;
  private options: ImageSessionOptions = {};
  /** The session's changes run one after another: a slider's re-run never interleaves with a click. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly sam: Sam3, readonly image: RgbImage) {}

  /** Finds every instance of each concept; a concept asked again replaces its earlier results. */
  find(concepts: string[], options: ImageSessionOptions = this.options): Promise<ImageObjectJson[]> {
    return this.serial(async () => {
      this.options = options;
      for (const label of concepts) {
        this.concepts.set(label, []);
        await this.detect(label);
      }
    });
  }

  /**
   * Adds clicks and / or sets the box of object `objectId` (a clicked object), or of a new object when absent.
   * Everything is checked before the session changes.
   */
  prompt(change: { points?: PointPrompt[]; box?: Box; objectId?: number }, options: ImageSessionOptions = this.options): Promise<ImageObjectJson[]> {
    return this.serial(async () => {
      const { width, height } = this.image;
      for (const p of change.points ?? []) checkPoint(p, width, height);
      if (change.box) checkBox({ box: change.box }, width, height);
      if (!change.points?.length && !change.box) throw new Sam3Error("BAD_PROMPT", "give clicks or a box");
      const old = change.objectId === undefined ? undefined : this.clicked(change.objectId);
      this.options = options;
      // a new click asks afresh: the candidate choice applied to the clicks before it
      const prompt: ClickPrompt = { points: [...(old?.prompt?.points ?? []), ...(change.points ?? [])], box: change.box ?? old?.prompt?.box };
      await this.track(old?.id ?? this.nextId++, prompt);
    });
  }

  /** Shows candidate `index` (0..2) of a one-click object instead of the best. */
  choose(objectId: number, index: number): Promise<ImageObjectJson[]> {
    return this.serial(async () => {
      const entry = this.clicked(objectId);
      const count = entry.json.candidates?.length ?? 0;
      if (!(Number.isInteger(index) && index >= 0 && index < count)) {
        throw new Sam3Error("BAD_REQUEST", count ? `object ${objectId} has candidates 0..${count - 1}` : `object ${objectId} has no candidates: they come with one click alone`);
      }
      await this.track(objectId, { ...entry.prompt!, choice: index });
    });
  }

  /** Takes back the last click of a clicked object; an object left with no click and no box goes. */
  undo(objectId: number): Promise<ImageObjectJson[]> {
    return this.serial(async () => {
      const { prompt } = this.clicked(objectId);
      const points = prompt!.points.slice(0, -1);
      if (!points.length && !prompt!.box) this.entries.delete(objectId);
      else await this.track(objectId, { points, box: prompt!.box });
    });
  }

  remove(objectId: number): Promise<ImageObjectJson[]> {
    return this.serial(async () => {
      const entry = this.get(objectId);
      if (entry.label !== undefined) this.concepts.get(entry.label)?.push(entry.object.box);
      this.entries.delete(objectId);
    });
  }

  /** Starts over: no objects, ids from 1 again. */
  clear(): Promise<ImageObjectJson[]> {
    return this.serial(async () => {
      this.entries.clear();
      this.concepts.clear();
      this.nextId = 1;
    });
  }

  /** New threshold / fineness: every prompt of the session runs again with them. */
  setOptions(options: ImageSessionOptions): Promise<ImageObjectJson[]> {
    return this.serial(async () => {
      this.options = options;
      for (const label of this.concepts.keys()) await this.detect(label);
      for (const entry of [...this.entries.values()]) if (entry.prompt) await this.track(entry.id, entry.prompt);
    });
  }

  /** The objects in id order, JSON-ready (COCO RLE masks, pixel boxes, core's colour). */
  objects(): ImageObjectJson[] {
    return this.sorted().map((e) => e.json);
  }

  /** The objects with their masks and labels, for the exports. */
  masks(): SegmentedObject[] {
    return this.sorted().map((e) => ({ ...e.object, label: e.label }));
  }

  /** The session as one image result: what core's image exports take. */
  results(): ImageResults {
    return { image: { width: this.image.width, height: this.image.height }, model: this.sam.pack.manifest.name, objects: this.masks() };
  }

  /** Runs a change after those before it, answering the objects as it left them. */
  private serial(change: () => Promise<void>): Promise<ImageObjectJson[]> {
    const run = this.queue.then(change).then(() => this.objects());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private sorted(): Entry[] {
    return [...this.entries.values()].sort((a, b) => a.id - b.id);
  }

  private get(objectId: number): Entry {
    const entry = this.entries.get(objectId);
    if (!entry) throw new Sam3Error("UNKNOWN_OBJECT", `there is no object ${objectId}`);
    return entry;
  }

  private clicked(objectId: number): Entry {
    const entry = this.get(objectId);
    if (!entry.prompt) throw new Sam3Error("BAD_PROMPT", `object ${objectId} was found by text: clicks refine clicked objects only`);
    return entry;
  }

  /** Runs one concept; a result with the box of an earlier one keeps its id, a removed one stays removed. */
  private async detect(label: string) {
    const result = await this.sam.segment(this.image, { text: label }, this.options);
    const dropped = this.concepts.get(label) ?? [];
    const before = [...this.entries.values()].filter((e) => e.label === label);
    for (const e of before) this.entries.delete(e.id);
    for (const object of result.objects) {
      if (dropped.some((b) => sameBox(b, object.box))) continue;
      const id = before.find((e) => sameBox(e.object.box, object.box))?.id ?? this.nextId++;
      this.keep({ id, label, object }, result);
    }
  }

  private async track(id: number, prompt: ClickPrompt) {
    const result = await this.sam.segment(
      this.image,
      { points: prompt.points.length ? prompt.points : undefined, boxes: prompt.box ? [{ box: prompt.box }] : undefined },
      { fineness: this.options.fineness, candidate: prompt.choice },
    );
    this.keep({ id, prompt, object: result.objects[0] }, result);
  }

  private keep(entry: Omit<Entry, "json">, result: SegmentResult) {
    const object = { ...entry.object, id: entry.id };
    const [json] = segmentationToJson({ ...result, objects: [{ ...object, label: entry.label }] }).objects;
    const out: ImageObjectJson = { ...json };
    if (entry.prompt) {
      out.points = entry.prompt.points;
      if (entry.prompt.box) out.prompt_box = entry.prompt.box;
      const candidates = result.candidates;
      if (candidates) {
        out.candidates = candidates.map((c) => ({ score: Number(c.score.toFixed(6)), area: c.area }));
        out.chosen = entry.prompt.choice ?? bestCandidate(candidates.map((c) => c.score));
      }
    }
    this.entries.set(entry.id, { ...entry, object, json: out });
  }
}

const sameBox = (a: Box, b: Box) => a.every((v, i) => Math.abs(v - b[i]) < 1e-6);
