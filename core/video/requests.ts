import { z } from "zod";
import { Sam3Error } from "../errors";

const sessionId = z.string().min(1);
const frameIndex = z.number().int().min(0);
const pair = z.tuple([z.number(), z.number()]);
const quad = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** The official predictor's request shapes (sam3_video_predictor.handle_request), plus a few extensions. */
export const startSessionRequest = z.object({
  type: z.literal("start_session"),
  /** A video file, a folder of JPEG / PNG frames, or one image. */
  resource_path: z.string().min(1),
  session_id: sessionId.optional(),
  /** Downscale frames whose longer side exceeds this many pixels (e.g. 1920 for 4K sources). */
  max_side: z.number().int().positive().optional(),
  /** Use every Nth frame. */
  stride: z.number().int().positive().optional(),
  /** Bytes of decoded frames this session may cache. */
  cache_bytes: z.number().int().positive().optional(),
});

export const addPromptRequest = z.object({
  type: z.literal("add_prompt"),
  session_id: sessionId,
  frame_index: frameIndex,
  /** A concept, or several (an extension): every instance on every frame is found. */
  text: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  /** [x, y] per point: relative 0..1 unless coordinates is "pixels". */
  points: z.array(pair).optional(),
  /** 1 positive, 0 negative, per point. */
  point_labels: z.array(z.number().int().min(0).max(1)).optional(),
  /** [x, y, w, h] per box: relative 0..1 unless coordinates is "pixels". */
  bounding_boxes: z.array(quad).optional(),
  bounding_box_labels: z.array(z.number().int().min(0).max(1)).optional(),
  /** With points (or one box): the object to add or refine. */
  obj_id: z.number().int().min(0).optional(),
  coordinates: z.enum(["relative", "pixels"]).default("relative"),
});

export const propagateRequest = z.object({
  type: z.literal("propagate_in_video"),
  session_id: sessionId,
  propagation_direction: z.enum(["both", "forward", "backward"]).default("both"),
  start_frame_index: frameIndex.optional(),
  max_frame_num_to_track: z.number().int().min(0).optional(),
});

const sessionRequest = <T extends string>(type: T) => z.object({ type: z.literal(type), session_id: sessionId });

export const videoRequest = z.discriminatedUnion("type", [
  startSessionRequest,
  addPromptRequest,
  sessionRequest("remove_object").extend({ obj_id: z.number().int().min(0) }),
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

/** Validates a request; a malformed one is a BAD_REQUEST naming the field. */
export function parseRequest<S extends z.ZodTypeAny>(schema: S, request: unknown): z.output<S> {
  const parsed = schema.safeParse(request);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  throw new Sam3Error("BAD_REQUEST", `invalid request: ${where}${issue.message}`);
}
