import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { boxPromptTensors, detectionMask, readDetectorOutput, selectDetections } from "./detector";
import type { Confinement } from "./confine";
import { Sam3Error } from "./errors";
import { decodeImage, DEFAULT_MAX_PIXELS, type ImageInput, type RgbImage } from "./image/decode";
import { toPixelTensor } from "./image/preprocess";
import type { MaskObject } from "./export/json";
import { maskArea, maskBox, type Box, type Mask } from "./masks/mask";
import { refineMask } from "./masks/refine";
import { sigmoid } from "./masks/resize";
import { openPack, type ModelPack } from "./pack/open";
import { DEFAULT_PRESET, presetWith } from "./pack/presets";
import { missingCapability, type Capabilities, type Capability } from "./pack/capabilities";
import { LIMITS } from "./limits";
import { checkBox, checkPoint, checkPromptBounds, checkText, promptPath, toPixelPrompt, type BoxPrompt, type Coordinates, type ImagePrompt } from "./prompts";
import type { Device } from "./runtime/devices";
import { checkRuntimeOptions, Engine, type DeviceReport, type GraphEngine, type RuntimeOptions, type Tensors } from "./runtime/engine";
import { parseEngine } from "./triton/engine-url";
import { TritonEngine } from "./triton/engine";
import { AsyncLruCache } from "./runtime/lru";
import { checkRange } from "./runtime/options";
import { timed, VIT_PASSES, type Timings } from "./runtime/timings";
import { TextTokenizer } from "./text/tokenizer";
import { bestCandidate, candidateLogits, candidateMask, pointPromptTensors, readTrackerOutput, singleMaskToken } from "./tracker";
import type { Role } from "./pack/roles";

export interface Sam3Options extends RuntimeOptions {
  /** A pack folder or preset name (default: the bundled sam3-tiny-336). */
  model?: string;
  /** Images above this many pixels are refused (decompression-bomb guard). */
  maxPixels?: number;
  /** The folders image paths must resolve into (links followed); unconfined when absent. */
  confine?: Confinement;
  /** How many images keep their encoder features, so new prompts on them skip the encoder. */
  featureCacheImages?: number;
}

export interface SegmentOptions {
  /** Detector: keep instances scoring above this (0..1; default from the pack, 0.5). 0 keeps every query. */
  threshold?: number;
  /** Detector: mask probability threshold (default from the pack, 0.5). */
  maskThreshold?: number;
  /** 0 keeps fine detail (hair, leaves); up to 1 gives clean, rounded edges for rigid objects. Default 0. */
  fineness?: number;
  /** Specks and holes of at most this many pixels are removed / filled (default from the pack, 16; 0 = off). */
  minRegionArea?: number;
  /** Detector: drop an instance whose mask overlaps a better one above this IoU (default: no suppression). */
  nms?: number;
  /** Detector: keep at most this many instances of each concept. */
  maxObjects?: number;
  /**
   * Tracker: true gives SAM's multimask output, 3 candidates with object 1 the best by the model's IoU estimate;
   * false the single-mask output. Default: as SAM's predictors, 3 candidates for one click alone. Exports whose
   * decoder gives only the 3 candidates answer with the best of them.
   */
  multimask?: boolean;
  /** Tracker, multimask: also upsample the two other candidates to report their areas (default true). */
  candidates?: boolean;
  /** Tracker, multimask: answer with this candidate (0..2, model order) instead of the best, as a user picks one. */
  candidate?: number;
  /** How the prompt's points and boxes are given: "pixels" (default) or "relative" (fractions 0..1 of the image). */
  coordinates?: Coordinates;
}

/** One object segment found: id, score, pixel box, area, mask and (detector) the concept that found it. */
export type SegmentedObject = MaskObject;

/** One detection on a video frame, with its low-res mask logits (size x size). */
export interface LowResDetection {
  label: string;
  score: number;
  box: Box;
  logits: Float32Array;
  size: number;
}

export interface SegmentResult {
  image: { width: number; height: number };
  model: string;
  path: "detector" | "tracker";
  objects: SegmentedObject[];
  /** Tracker, multimask output: the three candidates in model order (IoU estimate and area); object 1 is the best. */
  candidates?: { score: number; area: number }[];
  /** Tracker: probability that the object is present at all. */
  objectScore?: number;
  /** Tracker: the chosen candidate's low-res logits, to pass back as `maskInput` for refinement. */
  lowResMask?: Float32Array;
  /** Things the caller should know (e.g. the text prompt was truncated). */
  warnings: string[];
  timings: Timings;
}

/** One loaded pack shared by every handle in the process: sessions, tokenizer and feature caches. */
class SharedModel {
  refs = 0;
  private tokenizer?: TextTokenizer;
  readonly features: AsyncLruCache<Tensors>;
  /** ViT passes run since the pack was loaded (backbone or either vision encoder). */
  vitPasses = 0;
  /** Both encoders take the same pixels: a frame is resized once for the detector and the tracker. */
  readonly pixels = new AsyncLruCache<ort.Tensor>(2);
  readonly texts = new AsyncLruCache<{ features: ort.Tensor; mask: ort.Tensor; truncated: boolean }>(64);

  constructor(readonly engine: GraphEngine, featureCacheImages: number) {
    // one entry per image with a backbone, else one per image and encoder
    this.features = new AsyncLruCache(featureCacheImages * (engine.has("backbone") ? 1 : 2));
  }

  textTokenizer(): TextTokenizer {
    const { dir, manifest } = this.engine.pack;
    try {
      this.tokenizer ??= new TextTokenizer(join(dir, manifest.tokenizer.file), manifest.tokenizer.contextLength);
    } catch (e) {
      if (e instanceof Sam3Error) throw e;
      // the parser's message quotes the file's first bytes: name the file only
      throw new Sam3Error("PACK_INVALID", `model pack ${manifest.name}: the tokenizer ${manifest.tokenizer.file} is not a readable tokenizer.json`, { cause: e });
    }
    return this.tokenizer;
  }
}

const sharedModels = new Map<string, SharedModel>();

/** SAM 3 on one model pack. Handles opened on the same pack and device share one set of sessions. */
export class Sam3 {
  private closed = false;

  private constructor(private readonly shared: SharedModel, private readonly options: Sam3Options) {}

  static async open(options: Sam3Options = {}): Promise<Sam3> {
    checkOpenOptions(options);
    const pack = openPack(options.model ?? DEFAULT_PRESET);
    const remote = parseEngine(options.engine);
    // handles share a remote engine only when they would call the server alike
    const where = remote ? [remote.base, remote.timeoutMs, remote.retries].join(" ") : options.device ?? "cpu";
    const key = [pack.dir, where, options.intraOpThreads ?? 0, options.interOpThreads ?? 0].join("|");
    let shared = sharedModels.get(key);
    if (!shared) {
      shared = new SharedModel(remote ? new TritonEngine(pack, remote, options) : new Engine(pack, options), options.featureCacheImages ?? 2);
      sharedModels.set(key, shared);
    } else if (shared.engine.device.fallbackReason) {
      options.onWarning?.(`device ${shared.engine.device.requested} unavailable, running on cpu: ${shared.engine.device.fallbackReason}`);
    }
    shared.refs++;
    const sam = new Sam3(shared, options);
    // a remote server is checked before the handle is given out: down, or serving other graphs, fails here
    await shared.engine.ready().catch(async (e: unknown) => {
      await sam.close();
      throw e;
    });
    return sam;
  }

  /** How many packs are loaded in this process (their sessions alive): what a leak check watches. */
  static loadedModels(): number {
    return sharedModels.size;
  }

  get pack(): ModelPack {
    return this.shared.engine.pack;
  }

  get device(): DeviceReport {
    return this.shared.engine.device;
  }

  /** What this pack can do (text, clicks, mask refinement, video...), from the graphs it has. */
  get capabilities(): Capabilities {
    return this.pack.capabilities;
  }

  /** Why this pack cannot do `capability`, naming a preset that has it; undefined when it can. */
  missing(capability: Capability): string | undefined {
    return missingCapability(this.pack.manifest.name, this.pack.capabilities, capability, presetWith);
  }

  /** A MISSING_CAPABILITY error unless the pack can do `capability`. */
  require(capability: Capability): void {
    const why = this.missing(capability);
    if (why) throw new Sam3Error("MISSING_CAPABILITY", why);
  }

  /** ViT passes run on this pack's shared sessions since they were loaded (what a video frame's cost is counted in). */
  get vitPasses(): number {
    return this.shared.vitPasses;
  }

  async segment(image: ImageInput | RgbImage, prompt: ImagePrompt, options: SegmentOptions = {}): Promise<SegmentResult> {
    if (this.closed) throw new Sam3Error("CLOSED", "this SAM 3 handle is closed");
    checkPromptBounds(prompt);
    const path = promptPath(prompt);
    checkOptions(options);
    const timings: Timings = { [VIT_PASSES]: 0 };
    const input = typeof image === "string" && this.options.confine ? this.options.confine.resolve(image) : image;
    const maxPixels = this.options.maxPixels ?? DEFAULT_MAX_PIXELS;
    const rgb = isRgbImage(input) ? checkRgb(input, maxPixels) : await timed(timings, "decode", () => decodeImage(input, maxPixels));
    const pixels = toPixelPrompt(prompt, rgb.width, rgb.height, options.coordinates);
    for (const p of pixels.points ?? []) checkPoint(p, rgb.width, rgb.height);
    for (const b of pixels.boxes ?? []) checkBox(b, rgb.width, rgb.height);
    const result = path === "detector" ? await this.detect(rgb, pixels, options, timings) : await this.track(rgb, pixels, options, timings);
    return { image: { width: rgb.width, height: rgb.height }, model: this.pack.manifest.name, path, ...result, timings };
  }

  /** A video frame's backbone outputs (the detector's features and the tracker's embeddings of one ViT pass), cached as an image's. */
  frameFeatures(rgb: RgbImage): Promise<Tensors> {
    this.require("video");
    return this.imageFeatures("tracker", rgb, { [VIT_PASSES]: 0 });
  }

  /**
   * A video frame's detections for the video rules: each concept's queries scoring above `threshold` after mask
   * NMS, in query order (as the reference lists them), with their low-res mask logits.
   */
  async detectLowRes(rgb: RgbImage, concepts: string[], boxes: BoxPrompt[], options: { threshold: number; nms: number }): Promise<LowResDetection[]> {
    this.require(boxes.length ? "exemplarBoxes" : "text");
    const timings: Timings = { [VIT_PASSES]: 0 };
    const { engine } = this.shared;
    const vision = await this.imageFeatures("detector", rgb, timings);
    const out: LowResDetection[] = [];
    for (const label of concepts) {
      const text = await this.textFeatures(checkText(label), timings);
      const feeds: Tensors = { ...vision, textFeatures: text.features, textMask: text.mask };
      const role = boxes.length || !engine.has("detectorDecoder") ? "detectorDecoderBoxes" : "detectorDecoder";
      if (role === "detectorDecoderBoxes") Object.assign(feeds, boxPromptTensors(boxes, rgb.width, rgb.height));
      const raw = readDetectorOutput(await engine.run(role, feeds));
      const plane = raw.maskSize * raw.maskSize;
      const kept = selectDetections(raw, rgb.width, rgb.height, options.threshold, options.nms).sort((a, b) => a.query - b.query);
      for (const d of kept) out.push({ label, score: d.score, box: d.box, logits: raw.masks.slice(d.query * plane, (d.query + 1) * plane), size: raw.maskSize });
    }
    return out;
  }

  /** Runs one of the pack's graphs on the shared sessions: the video tracker's memory graphs. */
  runGraph(role: Role, feeds: Tensors): Promise<Tensors> {
    if (this.closed) throw new Sam3Error("CLOSED", "this SAM 3 handle is closed");
    return this.shared.engine.run(role, feeds);
  }

  /** Releases this handle; the sessions go when the last handle on the pack closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (--this.shared.refs > 0) return;
    for (const [key, shared] of sharedModels) if (shared === this.shared) sharedModels.delete(key);
    this.shared.features.clear();
    this.shared.pixels.clear();
    this.shared.texts.clear();
    await this.shared.engine.close();
  }

  private async detect(rgb: RgbImage, prompt: ImagePrompt, options: SegmentOptions, timings: Timings) {
    this.require(prompt.boxes?.length ? "exemplarBoxes" : "text");
    const concepts = [prompt.text!].flat().map(checkText);
    const [vision, ...texts] = await Promise.all([this.imageFeatures("detector", rgb, timings), ...concepts.map((c) => this.textFeatures(c, timings))]);
    const objects: SegmentedObject[] = [];
    const warnings: string[] = [];
    // one image pass serves every concept: only the decoder runs per concept
    for (const [i, label] of concepts.entries()) {
      const found = await this.detectConcept(rgb, { ...vision, textFeatures: texts[i].features, textMask: texts[i].mask }, prompt.boxes ?? [], options, timings);
      objects.push(...found.map((o) => ({ ...o, id: objects.length + o.id, label })));
      if (texts[i].truncated) warnings.push(`the text prompt "${label.slice(0, 40)}" is longer than ${this.pack.manifest.tokenizer.contextLength} tokens and was truncated`);
    }
    return { objects, warnings };
  }

  /** One concept's instances, from the image and text features in `feeds`. */
  private async detectConcept(rgb: RgbImage, feeds: Tensors, boxes: BoxPrompt[], options: SegmentOptions, timings: Timings) {
    const { engine } = this.shared;
    const thresholds = this.pack.manifest.thresholds;
    const role = boxes.length || !engine.has("detectorDecoder") ? "detectorDecoderBoxes" : "detectorDecoder";
    if (role === "detectorDecoderBoxes") Object.assign(feeds, boxPromptTensors(boxes, rgb.width, rgb.height));
    const raw = readDetectorOutput(await timed(timings, "detectorDecoder", () => engine.run(role, feeds)));
    const objects = await timed(timings, "postprocess", () => {
      const kept = selectDetections(raw, rgb.width, rgb.height, options.threshold ?? thresholds.detection, options.nms);
      return kept.slice(0, options.maxObjects ?? kept.length).map((d, i) => {
        const mask = this.refine(detectionMask(raw, d.query, rgb.width, rgb.height, options.maskThreshold ?? thresholds.mask), options);
        return { id: i + 1, score: d.score, box: d.box, area: maskArea(mask), mask };
      });
    });
    return objects;
  }

  private async track(rgb: RgbImage, prompt: ImagePrompt, options: SegmentOptions, timings: Timings) {
    const points = prompt.points ?? [];
    const box = prompt.boxes?.[0];
    this.require(points.length ? "clicks" : "box");
    if (!points.length && !box) throw new Sam3Error("BAD_PROMPT", "a mask prompt needs at least one point or a box with it");
    const { engine } = this.shared;
    const { name, imageSize } = this.pack.manifest;
    const warnings: string[] = [];
    let maskInput = prompt.maskInput;
    if (maskInput && !this.capabilities.maskRefinement) {
      // the clicks alone still give the object: a face that keeps every click refines by sending them all
      warnings.push(`model ${name} takes no mask prompt: the clicks ran without the previous mask`);
      maskInput = undefined;
    }
    // SAM's predictors ask for 3 candidates when one click alone is ambiguous, for the single-mask output otherwise
    const multimask = options.multimask ?? (points.length === 1 && !box && !maskInput);
    const role = this.trackerRole(multimask, maskInput !== undefined);
    const embeddings = await this.imageFeatures("tracker", rgb, timings);
    const boxInput = this.pack.manifest.roles[role]?.inputs.boxes !== undefined;
    const feeds: Tensors = { ...embeddings, ...pointPromptTensors({ points, box, image: rgb, imageSize, boxInput }) };
    if (maskInput) feeds.maskInput = maskInputTensor(maskInput, embeddings.emb0.dims[2] as number);
    const raw = readTrackerOutput(await timed(timings, "trackerDecoder", () => engine.run(role, feeds)));
    // a decoder that gives all 4 mask tokens has the single-mask output first, then the 3 candidates
    const first = raw.iouScores.length - 3;
    return timed(timings, "postprocess", () => {
      const picked = multimask && options.candidate !== undefined ? first + options.candidate : undefined;
      const chosen = picked ?? (multimask || !first ? bestCandidate(raw.iouScores, first) : singleMaskToken(raw));
      const upsample = (i: number) => this.refine(candidateMask(raw, i, rgb.width, rgb.height), options);
      const mask = upsample(chosen);
      const area = maskArea(mask);
      const candidates = [first, first + 1, first + 2];
      return {
        objects: [{ id: 1, score: raw.iouScores[chosen], box: maskBox(mask) ?? ([0, 0, 0, 0] as Box), area, mask }],
        candidates:
          !multimask || options.candidates === false
            ? undefined
            : candidates.map((i) => ({ score: raw.iouScores[i], area: i === chosen ? area : maskArea(upsample(i)) })),
        objectScore: sigmoid(raw.objectScoreLogit),
        lowResMask: candidateLogits(raw, chosen),
        warnings,
      };
    });
  }

  /** The single-mask output needs a decoder that gives every mask token (a video decoder); else the 3 candidates. */
  private trackerRole(multimask: boolean, withMask: boolean): Role {
    const { engine } = this.shared;
    const video = withMask ? "videoTrackerDecoderMask" : "videoTrackerDecoder";
    if (!multimask && engine.has(video)) return video;
    return withMask ? "trackerDecoderMask" : "trackerDecoder";
  }

  private refine(mask: Mask, options: SegmentOptions): Mask {
    const fineness = options.fineness ?? 0;
    const minRegionArea = options.minRegionArea ?? this.pack.manifest.thresholds.minRegionArea;
    return fineness || minRegionArea ? refineMask(mask, { fineness, minRegionArea }) : mask;
  }

  /**
   * The image features a head reads, computed once per image while they stay in the cache: with a backbone one ViT
   * pass serves both heads (its outputs hold the detector's FPN features and the tracker's embeddings), without one
   * each head has its own encoder.
   */
  private imageFeatures(head: "detector" | "tracker", rgb: RgbImage, timings: Timings): Promise<Tensors> {
    const { shared } = this;
    const role = shared.engine.has("backbone") ? "backbone" : head === "detector" ? "visionEncoder" : "trackerVisionEncoder";
    return shared.features.getOrCreate(`${role}:${rgb.key}`, async () => {
      const { imageSize, normalize } = this.pack.manifest;
      const pixels = await shared.pixels.getOrCreate(rgb.key, () => timed(timings, "preprocess", () => toPixelTensor(rgb, imageSize, normalize)));
      shared.vitPasses++;
      timings[VIT_PASSES]++;
      return timed(timings, role, () => shared.engine.run(role, { pixels }));
    });
  }

  private textFeatures(text: string, timings: Timings) {
    return this.shared.texts.getOrCreate(text, async () => {
      const { inputIds, attentionMask, truncated } = this.shared.textTokenizer().encode(text);
      const length = inputIds.length;
      const ids = new ort.Tensor("int64", inputIds, [1, length]);
      const mask = new ort.Tensor("int64", attentionMask, [1, length]);
      const out = await timed(timings, "textEncoder", () => this.shared.engine.run("textEncoder", { inputIds: ids, attentionMask: mask }));
      return { features: out.textFeatures, mask, truncated };
    });
  }
}

const isRgbImage = (image: unknown): image is RgbImage =>
  typeof image === "object" && image !== null && "key" in image && "data" in image && "width" in image;

/** An already decoded image is held to the same pixel limit, and its bytes must match its size. */
function checkRgb(rgb: RgbImage, maxPixels: number): RgbImage {
  const { width, height, data } = rgb;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new Sam3Error("BAD_IMAGE", `image size ${width}x${height} is not a positive whole size`);
  if (width * height > maxPixels) throw new Sam3Error("BAD_IMAGE", `a ${width}x${height} image is more than the limit of ${maxPixels} pixels (maxPixels)`);
  if (data?.length !== width * height * 3) throw new Sam3Error("BAD_IMAGE", `a ${width}x${height} RGB image needs ${width * height * 3} bytes, got ${data?.length}`);
  return rgb;
}

function maskInputTensor(logits: Float32Array, size: number): ort.Tensor {
  if (logits.length !== size * size) {
    throw new Sam3Error("BAD_PROMPT", `mask prompt has ${logits.length} values; this model takes ${size}x${size} low-res logits`);
  }
  return new ort.Tensor("float32", logits, [1, 1, size, size]);
}

/** More instances than any detector has queries: a bigger maxObjects is a mistake. */
const MAX_OBJECTS_PER_IMAGE = 1000;
/** Feature caches beyond this would hold gigabytes of encoder outputs. */
const MAX_FEATURE_CACHE_IMAGES = 64;

function checkOptions(o: SegmentOptions) {
  if (typeof o !== "object" || o === null) throw new Sam3Error("BAD_OPTION", "segment options must be an object");
  const inUnit = (name: string, v: number | undefined) => {
    if (v !== undefined && !(typeof v === "number" && v >= 0 && v <= 1)) throw new Sam3Error("BAD_OPTION", `${name} must be between 0 and 1, got ${v}`);
  };
  inUnit("threshold", o.threshold);
  inUnit("maskThreshold", o.maskThreshold);
  inUnit("fineness", o.fineness);
  inUnit("nms", o.nms);
  checkRange("minRegionArea", o.minRegionArea, 0, LIMITS.pixels, false);
  checkRange("maxObjects", o.maxObjects, 1, MAX_OBJECTS_PER_IMAGE);
  checkRange("candidate", o.candidate, 0, 2);
  for (const key of ["candidates", "multimask"] as const) {
    if (o[key] !== undefined && typeof o[key] !== "boolean") throw new Sam3Error("BAD_OPTION", `${key} must be true or false`);
  }
}

function checkOpenOptions(o: Sam3Options) {
  if (typeof o !== "object" || o === null) throw new Sam3Error("BAD_OPTION", "options must be an object");
  checkRuntimeOptions(o);
  checkRange("featureCacheImages", o.featureCacheImages, 0, MAX_FEATURE_CACHE_IMAGES);
  checkRange("maxPixels", o.maxPixels, 1, Number.MAX_SAFE_INTEGER);
}

export type { Device };
