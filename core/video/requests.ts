import { z } from "zod";
import { Sam3Error } from "../errors";
import { LIMITS } from "../limits";
import { checkPromptBounds, type BoxPrompt, type PointPrompt } from "../prompts";

/** A prompt on one video frame in core's own shapes (the official array shapes are converted by fromOfficialPrompt). */
export interface VideoPrompt {
  frame: number;
  /** A concept or several: every instance on every frame is found; starts the session over. */
  text?: string | string[];
  /** Clicks on one object (needs objectId). */
  points?: PointPrompt[];
  /** With objectId: one box around it. Without: exemplar boxes of a concept. */
  boxes?: BoxPrompt[];
  /** The object the points / box add or refine. */
  objectId?: number;
  /** "pixels" (default) or "relative": fractions 0..1 of the frame's width and height. */
  coordinates?: "pixels" | "relative";
}

/** Messages of the schema's LIMITS checks, so a request beyond one is LIMIT_EXCEEDED rather than BAD_REQUEST. */
const LIMIT_MESSAGES = new Set<string>();

/** A `.max()` message naming the limit, registered as a limit. */
function limit(name: keyof typeof LIMITS, what: string): { message: string } {
  const message = `more than ${LIMITS[name]} ${what}, the limit (${name}): split the request`;
  LIMIT_MESSAGES.add(message);
  return { message };
}

/**
 * An array of at most LIMITS[name] items, its length checked before any item is parsed, so a huge one costs
 * nothing but the refusal.
 */
function capped<T extends z.ZodTypeAny>(item: T, name: keyof typeof LIMITS, what: string) {
  const { message } = limit(name, what);
  return z.preprocess((value, ctx) => {
    if (!Array.isArray(value) || value.length <= LIMITS[name]) return value;
    ctx.addIssue({ code: "custom", message });
    return [];
    // typed as the array it parses to, so requests keep their field types
  }, z.array(item)) as unknown as z.ZodArray<T>;
}

/** Ids, paths and file names are short: a megabyte "session id" is refused before it is stored anywhere. */
const ID_LENGTH = 256;
const PATH_LENGTH = 4096;
/** Object ids are whole numbers a JSON client can hold exactly. */
const MAX_OBJECT_ID = 2 ** 31 - 1;

const sessionId = z.string().min(1).max(ID_LENGTH);
const frameIndex = z.number().int().min(0).max(LIMITS.framesPerSession, limit("framesPerSession", "frames"));
const coordinate = z.number().finite();
const pair = z.tuple([coordinate, coordinate]);
const quad = z.tuple([coordinate, coordinate, coordinate, coordinate]);
const label = z.number().int().min(0).max(1);
const concept = z.string().max(LIMITS.textLength, limit("textLength", "characters in a text prompt"));
const objectId = z.number().int().min(0).max(MAX_OBJECT_ID);

/** Where a propagation runs from its start frame; "both" runs forward, then backward. */
export const DIRECTIONS = ["both", "forward", "backward"] as const;
export type PropagationDirection = (typeof DIRECTIONS)[number];

/** The official predictor's request shapes (facebookresearch/sam3's Sam3VideoPredictor.handle_request), plus a few extensions. */
export const startSessionRequest = z.object({
  type: z.literal("start_session"),
  /** A video file, a folder of JPEG / PNG frames, or one image. */
  resource_path: z.string().min(1).max(PATH_LENGTH),
  session_id: sessionId.optional(),
  /** Downscale frames whose longer side exceeds this many pixels (e.g. 1920 for 4K sources). */
  max_side: z.number().int().positive().max(Math.floor(Math.sqrt(LIMITS.pixels))).optional(),
  /** Use every Nth frame. */
  stride: z.number().int().positive().max(LIMITS.framesPerSession).optional(),
  /** Bytes of decoded frames this session may cache. */
  cache_bytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  /** Text prompts: detections scoring at least this are kept and start new objects (the rules' two detection thresholds). */
  threshold: z.number().min(0).max(1).optional(),
});

export const addPromptRequest = z.object({
  type: z.literal("add_prompt"),
  session_id: sessionId,
  frame_index: frameIndex,
  /** A concept, or several (an extension): every instance on every frame is found. */
  text: z.union([concept, capped(concept, "conceptsPerPrompt", "text concepts").refine((texts) => texts.length > 0, "give at least one text")]).optional(),
  /** [x, y] per point: relative 0..1 unless coordinates is "pixels". */
  points: capped(pair, "pointsPerPrompt", "points").optional(),
  /** 1 positive, 0 negative, per point. */
  point_labels: capped(label, "pointsPerPrompt", "point labels").optional(),
  /** [x, y, w, h] per box: relative 0..1 unless coordinates is "pixels". */
  bounding_boxes: capped(quad, "boxesPerPrompt", "boxes").optional(),
  bounding_box_labels: capped(label, "boxesPerPrompt", "box labels").optional(),
  /** With points (or one box): the object to add or refine. */
  obj_id: objectId.optional(),
  coordinates: z.enum(["relative", "pixels"]).default("relative"),
});

export const propagateRequest = z.object({
  type: z.literal("propagate_in_video"),
  session_id: sessionId,
  propagation_direction: z.enum(DIRECTIONS).default("both"),
  start_frame_index: frameIndex.optional(),
  max_frame_num_to_track: z.number().int().min(0).max(LIMITS.framesPerSession, limit("framesPerSession", "frames to track")).optional(),
});

const sessionRequest = <T extends string>(type: T) => z.object({ type: z.literal(type), session_id: sessionId });

export const videoRequest = z.discriminatedUnion("type", [
  startSessionRequest,
  addPromptRequest,
  sessionRequest("remove_object").extend({ obj_id: objectId }),
  sessionRequest("reset_session"),
  sessionRequest("close_session"),
  sessionRequest("cancel_propagation"),
  sessionRequest("get_session"),
  z.object({ type: z.literal("list_sessions") }),
]);

export type VideoRequest = z.input<typeof videoRequest>;
export type StartSessionRequest = z.output<typeof startSessionRequest>;
export type AddPromptRequest = z.output<typeof addPromptRequest>;
export type PropagateRequest = z.output<typeof propagateRequest>;

/** A core prompt's shape and sizes, checked as the official request's are before anything runs. */
export function checkVideoPrompt(prompt: VideoPrompt): VideoPrompt {
  if (typeof prompt !== "object" || prompt === null) throw new Sam3Error("BAD_REQUEST", "the prompt must be an object with frame and text, points or boxes");
  checkPromptBounds({ text: prompt.text, points: prompt.points, boxes: prompt.boxes });
  if (prompt.objectId !== undefined && !(Number.isInteger(prompt.objectId) && prompt.objectId >= 0 && prompt.objectId <= MAX_OBJECT_ID)) {
    throw new Sam3Error("BAD_REQUEST", `the object id must be a whole number from 0 to ${MAX_OBJECT_ID}`);
  }
  if (prompt.coordinates !== undefined && prompt.coordinates !== "pixels" && prompt.coordinates !== "relative") {
    throw new Sam3Error("BAD_OPTION", 'coordinates must be "pixels" or "relative"');
  }
  return prompt;
}

/** Validates a request; a malformed one is a BAD_REQUEST naming the field, one beyond a limit LIMIT_EXCEEDED. */
export function parseRequest<S extends z.ZodTypeAny>(schema: S, request: unknown): z.output<S> {
  const parsed = schema.safeParse(request);
  if (parsed.success) return parsed.data;
  const issue = flatIssues(parsed.error.issues).find((i) => LIMIT_MESSAGES.has(i.message)) ?? parsed.error.issues[0];
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  throw new Sam3Error(LIMIT_MESSAGES.has(issue.message) ? "LIMIT_EXCEEDED" : "BAD_REQUEST", `invalid request: ${where}${issue.message}`);
}

/**
 * The issues and those inside union alternatives, where a limit on one alternative (a list of texts) shows up;
 * an alternative's paths are relative to the union, so they get the union's path in front.
 */
const flatIssues = (issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] =>
  issues.flatMap((i) => (i.code === "invalid_union" ? [i, ...flatIssues(i.errors.flat().map((inner) => ({ ...inner, path: [...i.path, ...inner.path] })))] : [i]));
