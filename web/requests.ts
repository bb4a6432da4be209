import { z } from "zod";
import { checkBox, checkPoint, LIMITS } from "../core";
import { WebError } from "./http";

const coordinate = z.number().finite();
const unit = z.number().min(0).max(1);

const promptRequest = z
  .object({
    frame: z.number().int().min(0).max(LIMITS.framesPerSession).optional(),
    text: z.string().optional(),
    points: z.array(z.object({ x: coordinate, y: coordinate, positive: z.boolean().optional() }).strict()).optional(),
    box: z.tuple([coordinate, coordinate, coordinate, coordinate]).optional(),
    threshold: unit.optional(),
    fineness: unit.optional(),
    obj_id: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  })
  .strict();

const optionsRequest = z.object({ threshold: unit.optional(), fineness: unit.optional() }).strict();
const candidateRequest = z.object({ index: z.number().int().min(0).max(2) }).strict();

/** A body checked against its schema: the first problem, named by its field, is the answer. */
function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new WebError(400, "BAD_REQUEST", `${issue.path.join(".") || "the body"}: ${issue.message}`);
  }
  return parsed.data;
}

/** New image options: the threshold and fineness every prompt of the image runs again with. */
export const parseOptions = (body: unknown) => parse(optionsRequest, body);

/** The candidate of a one-click object to show. */
export const parseCandidate = (body: unknown) => parse(candidateRequest, body).index;

/** What the page asks of an upload: text concepts, or the new clicks / box of one object, on one frame. */
export type PromptRequest = z.infer<typeof promptRequest> & { concepts: string[] };

/** A prompt body checked in full (shape, counts, lengths) before anything runs or changes. */
export function parsePrompt(body: unknown): PromptRequest {
  const points = (body as { points?: unknown } | null)?.points;
  if (Array.isArray(points) && points.length > LIMITS.pointsPerPrompt) {
    throw new WebError(400, "LIMIT_EXCEEDED", `${points.length} points: the limit is ${LIMITS.pointsPerPrompt} per prompt`);
  }
  const data = parse(promptRequest, body);
  const concepts = (data.text ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (concepts.length > LIMITS.conceptsPerPrompt) {
    throw new WebError(400, "LIMIT_EXCEEDED", `${concepts.length} concepts: the limit is ${LIMITS.conceptsPerPrompt} per prompt`);
  }
  const long = concepts.find((c) => c.length > LIMITS.textLength);
  if (long) throw new WebError(400, "LIMIT_EXCEEDED", `a concept of ${long.length} characters: the limit is ${LIMITS.textLength}`);
  if (!concepts.length && !data.points?.length && !data.box) {
    throw new WebError(400, "BAD_PROMPT", "give text concepts, clicks or a box");
  }
  return { ...data, concepts };
}

/** Clicks and the box must lie on the frame: checked before the session stores them. */
export function checkOnFrame(request: PromptRequest, width: number, height: number): void {
  for (const p of request.points ?? []) checkPoint(p, width, height);
  if (request.box) checkBox({ box: request.box }, width, height);
}

/** A frame number from the URL: digits only, inside the upload. */
export function frameNumber(text: string, frames: number): number {
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(n < frames)) throw new WebError(400, "BAD_REQUEST", `frame ${text.slice(0, 20)} is out of range: this upload has frames 0..${frames - 1}`);
  return n;
}

/** An object number from the URL. */
export function objectNumber(text: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new WebError(404, "UNKNOWN_OBJECT", `there is no object ${text.slice(0, 20)}`);
  return Number(text);
}
