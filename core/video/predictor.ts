import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, extname, join } from "node:path";
import type { z } from "zod";
import type { Confinement } from "../confine";
import type { sessionInfoSchema } from "../export/json-schemas";
import { asSam3Error, Sam3Error } from "../errors";
import { formatBytes } from "../bytes";
import { LIMITS } from "../limits";
import { checkRange } from "../runtime/options";
import { Sam3, type Sam3Options } from "../sam3";
import type { RgbImage } from "../image/decode";
import { frameToJson, type FrameJson } from "../export/json";
import { summarizeObjects, type ObjectSummary } from "../export/summary";
import { videoResultFile, writeVideoResults, type VideoExportOptions, type VideoResultFile, type VideoResults } from "../export/video-files";
import { openFrameSource, type FrameSource } from "./frame-source";
import { MaskPromptTracker, MemoryVideoTracker, type VideoTracker } from "./object-tracker";
import { fromOfficialPrompt, toOfficialFrame, type FrameResult } from "./official";
import {
  checkVideoPrompt,
  parseRequest,
  propagateRequest,
  startSessionRequest,
  videoRequest,
  type PropagationDirection,
  type StartSessionRequest,
  type VideoPrompt,
  type VideoRequest,
} from "./requests";
import { checkRules, VIDEO_RULES, type VideoRules } from "./rules";
import { VideoSession, type PropagationProgress } from "./session";

/** Where and how far a propagation runs (the official request's fields in core's words). */
export interface PropagateOptions {
  /** both (default) | forward | backward, from the start frame. */
  direction?: PropagationDirection;
  /** Default: the first prompted frame (or, re-running after edits, the first edited one). */
  start?: number;
  /** At most this many frames in each direction. */
  maxFrames?: number;
}

export interface PredictorOptions extends Sam3Options {
  /** Open sessions at most (default 8). */
  maxSessions?: number;
  /** A session unused this long is closed (default 30 minutes). */
  sessionTtlMs?: number;
  /** Decoded-frame cache of one session unless its start_session says otherwise (default 256 MiB). */
  sessionCacheBytes?: number;
  /** All sessions' frame caches together (default 2 GiB: eight sessions at the default cache). */
  totalCacheBytes?: number;
  /** Overrides of the official thresholds (detection threshold, new-object score...). */
  rules?: Partial<VideoRules>;
  /** The folders start_session may read videos and frames from (links followed); unconfined when absent. */
  confine?: Confinement;
  /**
   * Builds each session's tracker: by default SAM 3's memory tracker where the pack has its memory graphs, else
   * the tracker decoder prompted with the previous mask.
   */
  makeTracker?: (sam: Sam3, rules: VideoRules) => VideoTracker;
}

/** SAM 3's memory tracker where the pack has its graphs; the mask-prompt tracker for the public exports. */
function defaultTracker(sam: Sam3, rules: VideoRules): VideoTracker {
  return sam.capabilities.video === "memory" ? new MemoryVideoTracker(sam) : new MaskPromptTracker(sam, rules.presenceThreshold);
}

export type SessionInfo = z.infer<typeof sessionInfoSchema>;

interface Responses {
  start_session: SessionInfo;
  add_prompt: FrameResult;
  remove_object: { is_success: true; session_id: string; obj_id: number };
  reset_session: { is_success: true; session_id: string };
  close_session: { is_success: true; session_id: string };
  cancel_propagation: { is_success: true; session_id: string; was_running: boolean };
  get_session: SessionInfo;
  list_sessions: { sessions: SessionInfo[] };
}

export type VideoResponse<T extends VideoRequest["type"]> = Responses[T];

const MINUTE = 60_000;

/** A session slot and its frame-cache bytes, held from the start of start_session until it opens or fails. */
interface Reservation {
  id: string;
  cacheBytes: number;
  /** Its session opened (the slot is the session's now) or it was given back: either way it is spent. */
  spent?: boolean;
}

/**
 * SAM 3's video predictor API (`handle_request` / `handle_stream_request` of the official code) over many
 * sessions, with a TTL, a session limit and a memory budget for decoded frames.
 */
export class Sam3VideoPredictor {
  private readonly sessions = new Map<string, VideoSession>();
  /** What to undo when a session closes (temporary upload files). */
  private readonly cleanups = new Map<string, () => Promise<void>>();
  /** Frame-cache bytes each session (open or opening) was granted; a key here holds a session slot. */
  private readonly cacheGrants = new Map<string, number>();
  /** How an upload's session names its source (the upload's own name, not the temporary file). */
  private readonly labels = new Map<string, string>();
  private closed = false;
  private readonly makeTracker: (sam: Sam3, rules: VideoRules) => VideoTracker;
  private readonly rules: VideoRules;
  private readonly sweeper: NodeJS.Timeout;

  private constructor(readonly sam: Sam3, private readonly options: PredictorOptions) {
    this.rules = { ...VIDEO_RULES, ...options.rules };
    this.makeTracker = options.makeTracker ?? defaultTracker;
    this.sweeper = setInterval(() => void this.evictExpired(), Math.min(this.ttl, MINUTE)).unref();
  }

  static async open(options: PredictorOptions = {}): Promise<Sam3VideoPredictor> {
    checkPredictorOptions(options);
    return new Sam3VideoPredictor(await Sam3.open(options), options);
  }

  /** `context.label`: how start_session's errors and session info name the source, when the path is not the user's own. */
  async handleRequest<R extends VideoRequest>(request: R, context: { label?: string } = {}): Promise<VideoResponse<R["type"]>> {
    const req = parseRequest(videoRequest, request);
    await this.evictExpired();
    const respond = (value: Responses[keyof Responses]) => value as VideoResponse<R["type"]>;
    switch (req.type) {
      case "start_session":
        return respond(await this.startSession(this.reserve(req), req, context.label));
      case "add_prompt": {
        const session = this.session(req.session_id);
        return respond(officialFrame(await session.addPrompt(fromOfficialPrompt(req)), session));
      }
      case "remove_object":
        this.session(req.session_id).removeObject(req.obj_id);
        return respond({ is_success: true, session_id: req.session_id, obj_id: req.obj_id });
      case "reset_session":
        this.session(req.session_id).reset();
        return respond({ is_success: true, session_id: req.session_id });
      case "close_session":
        await this.closeSession(req.session_id);
        return respond({ is_success: true, session_id: req.session_id });
      case "cancel_propagation":
        return respond({ is_success: true, session_id: req.session_id, was_running: this.session(req.session_id).cancel() });
      case "get_session":
        return respond(this.info(req.session_id));
      case "list_sessions":
        return respond({ sessions: [...this.sessions.values()].map((s) => this.describe(s)) });
    }
  }

  /** `propagate_in_video`: yields {frame_index, outputs} per frame once final (see `propagate`); breaking out of the loop stops it. */
  async *handleStreamRequest(request: { type: "propagate_in_video" } & Record<string, unknown>): AsyncGenerator<FrameResult> {
    const req = parseRequest(propagateRequest, request);
    const session = this.session(req.session_id);
    for await (const t of session.propagate(req)) yield officialFrame(t, session);
  }

  /** Adds a prompt on one frame (points and boxes in core's shapes, pixels unless said otherwise); returns that frame. */
  async addPrompt(sessionId: string, prompt: VideoPrompt): Promise<FrameJson> {
    const session = this.session(sessionId);
    return frameJson(session, await session.addPrompt(checkVideoPrompt(prompt)));
  }

  /**
   * Tracks the session's objects, yielding each frame's objects as JSON as soon as it is final; breaking out stops
   * it. With a text concept a frame is final hotstartDelay (15) frames later, when the hot-start rules can no longer
   * remove an object from it; `progress` counts the frames processed.
   */
  async *propagate(sessionId: string, options: PropagateOptions = {}): AsyncGenerator<FrameJson> {
    const req = parseRequest(propagateRequest, {
      type: "propagate_in_video",
      session_id: sessionId,
      propagation_direction: options.direction,
      start_frame_index: options.start,
      max_frame_num_to_track: options.maxFrames,
    });
    const session = this.session(sessionId);
    for await (const t of session.propagate(req)) yield frameJson(session, t);
  }

  /** One frame's objects (as stored: nothing is re-run). */
  frame(sessionId: string, frame: number): FrameJson {
    const session = this.session(sessionId);
    return frameJson(session, session.checkFrame(frame));
  }

  /** The decoded frame itself (shared with the frame cache: do not modify it). */
  frameImage(sessionId: string, frame: number): Promise<RgbImage> {
    const session = this.session(sessionId);
    return session.source.readFrame(session.checkFrame(frame));
  }

  /** The session's size, frames, objects and propagation progress (what get_session answers). */
  info(sessionId: string): SessionInfo {
    return this.describe(this.session(sessionId));
  }

  progress(sessionId: string): PropagationProgress {
    return this.session(sessionId).progress;
  }

  /** Each object over the frames it has results on: label, first and last frame, frames present, mean area and score. */
  objects(sessionId: string): ObjectSummary[] {
    const session = this.session(sessionId);
    return summarizeObjects(Array.from({ length: session.source.info.frames }, (_, t) => session.outputs.objects(t)));
  }

  /** Writes the session's results to files in `dir` (JSON lines, PNG sequences, polygons, overlay MP4); returns their paths. */
  export(sessionId: string, dir: string, stem: string, formats: VideoExportOptions): Promise<string[]> {
    return writeVideoResults(this.results(sessionId), dir, stem, formats);
  }

  /** One download of the session's results: masks.jsonl, masks.zip (a PNG sequence per object) or overlay.mp4. */
  exportFile(sessionId: string, file: VideoResultFile): Promise<Buffer> {
    return videoResultFile(this.results(sessionId), file);
  }

  /**
   * `start_session` on bytes rather than a path (an upload, a message buffer): they go to a private temporary
   * file that is deleted when the session closes.
   */
  async startSessionFromBytes(bytes: Uint8Array, fileName: string, request: Omit<StartSessionRequest, "type" | "resource_path"> = {}): Promise<SessionInfo> {
    const label = basename(String(fileName)) || "video";
    const req = parseRequest(startSessionRequest, { ...request, type: "start_session", resource_path: label });
    await this.evictExpired();
    const reservation = this.reserve(req);
    let folder: string | undefined;
    try {
      folder = await mkdtemp(join(tmpdir(), "sam3-upload-"));
      // only the extension is kept: the name the caller gave never becomes part of a path
      const path = join(folder, `upload${safeExtension(label)}`);
      await writeFile(path, bytes);
      const info = await this.startSession(reservation, { ...req, resource_path: path }, label);
      const made = folder;
      this.cleanups.set(info.session_id, () => rm(made, { recursive: true, force: true }));
      return info;
    } catch (e) {
      this.release(reservation);
      if (folder) await rm(folder, { recursive: true, force: true }).catch(() => undefined);
      // the frame source names the temporary file by the upload's own name (its label)
      throw asSam3Error(e, "opening the upload");
    }
  }

  private session(id: string): VideoSession {
    const session = this.sessions.get(id);
    if (!session) {
      throw new Sam3Error("UNKNOWN_SESSION", `no session "${id}" (it may have been closed or expired after ${Math.round(this.ttl / MINUTE)} min unused)`);
    }
    session.lastUsed = Date.now();
    return session;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.closeSession(id)));
    await this.sam.close();
  }

  /**
   * Takes a session slot and the frame-cache bytes at once, before anything is awaited, so concurrent starts
   * cannot open more sessions than the limit or two sessions under one id.
   */
  private reserve(req: StartSessionRequest): Reservation {
    if (this.closed) throw new Sam3Error("CLOSED", "the video predictor is closed");
    const id = req.session_id ?? randomUUID();
    if (this.cacheGrants.has(id)) throw new Sam3Error("BAD_REQUEST", `session "${id}" already exists (or is being opened)`);
    const maxSessions = this.options.maxSessions ?? 8;
    if (this.cacheGrants.size >= maxSessions) {
      throw new Sam3Error("LIMIT_EXCEEDED", `${maxSessions} sessions are open, the limit (maxSessions): close one (close_session) first`);
    }
    const cacheBytes = req.cache_bytes ?? this.options.sessionCacheBytes ?? 256 * 2 ** 20;
    const budget = this.options.totalCacheBytes ?? 2 * 2 ** 30;
    const committed = [...this.cacheGrants.values()].reduce((a, b) => a + b, 0);
    if (committed + cacheBytes > budget) {
      throw new Sam3Error("LIMIT_EXCEEDED", `a ${formatBytes(cacheBytes)} frame cache would exceed the ${formatBytes(budget)} budget (totalCacheBytes, ${formatBytes(committed)} in use): close a session or ask for a smaller cache_bytes`);
    }
    this.cacheGrants.set(id, cacheBytes);
    return { id, cacheBytes };
  }

  /** Gives back a reservation whose session did not open (once: a later start may hold the same id by then). */
  private release(reservation: Reservation) {
    if (reservation.spent) return;
    reservation.spent = true;
    this.cacheGrants.delete(reservation.id);
  }

  private async startSession(reservation: Reservation, req: StartSessionRequest, label?: string): Promise<SessionInfo> {
    const { id, cacheBytes } = reservation;
    let source: FrameSource | undefined;
    try {
      source = await openFrameSource(req.resource_path, { maxSide: req.max_side, stride: req.stride, cacheBytes, confine: this.options.confine, label, maxPixels: this.options.maxPixels });
      if (source.info.frames > LIMITS.framesPerSession) {
        throw new Sam3Error("LIMIT_EXCEEDED", `${label ?? req.resource_path} has ${source.info.frames} frames, more than the limit of ${LIMITS.framesPerSession} (framesPerSession): use stride or cut the video`);
      }
      if (this.closed) throw new Sam3Error("CLOSED", "the video predictor was closed while the session was opening");
    } catch (e) {
      this.release(reservation);
      await source?.close().catch(() => undefined);
      throw e;
    }
    reservation.spent = true;
    const t = req.threshold;
    const rules = t === undefined ? this.rules : { ...this.rules, scoreThresholdDetection: t, newDetThresh: t };
    const session = new VideoSession(id, source, this.sam, this.makeTracker(this.sam, rules), rules);
    this.sessions.set(id, session);
    if (label !== undefined) this.labels.set(id, label);
    return this.describe(session);
  }

  private async closeSession(id: string) {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.cacheGrants.delete(id);
    this.labels.delete(id);
    session.cancel();
    await session.source.close();
    await this.cleanups.get(id)?.();
    this.cleanups.delete(id);
  }

  private async evictExpired() {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (!s.progress.running && now - s.lastUsed > this.ttl) await this.closeSession(id);
  }

  private get ttl() {
    return this.options.sessionTtlMs ?? 30 * MINUTE;
  }

  /** What an export reads of a session: its stored results and its frames. */
  private results(sessionId: string): VideoResults {
    const session = this.session(sessionId);
    const { frames, width, height, fps } = session.source.info;
    return {
      frames,
      width,
      height,
      fps,
      prompted: session.hasPrompts(),
      objectsOn: (t) => session.outputs.objects(t),
      readFrame: (t) => session.source.readFrame(t),
    };
  }

  private describe(s: VideoSession): SessionInfo {
    const { info } = s.source;
    return {
      session_id: s.id,
      resource_path: this.labels.get(s.id) ?? s.source.path,
      frames: info.frames,
      width: info.width,
      height: info.height,
      fps: info.fps,
      kind: info.kind,
      decoder: info.decoder,
      tracker: s.tracker.kind,
      ...(s.source.decodeError ? { decode_error: s.source.decodeError } : {}),
      object_ids: s.objectIds(),
      progress: s.progress,
      memory: { results_bytes: s.outputs.bytes(), frame_cache_bytes: s.source.cachedBytes(), tracker_bytes: s.tracker.bytes() },
      last_used: new Date(s.lastUsed).toISOString(),
      expires_at: new Date(s.lastUsed + this.ttl).toISOString(),
    };
  }
}

function checkPredictorOptions(o: PredictorOptions) {
  checkRange("maxSessions", o.maxSessions, 1, 10_000);
  checkRange("sessionTtlMs", o.sessionTtlMs, 1, 2 ** 31 - 1);
  checkRange("sessionCacheBytes", o.sessionCacheBytes, 0, Number.MAX_SAFE_INTEGER);
  checkRange("totalCacheBytes", o.totalCacheBytes, 0, Number.MAX_SAFE_INTEGER);
  checkRules(o.rules);
}

function frameJson(session: VideoSession, t: number): FrameJson {
  const { width, height } = session.source.info;
  return frameToJson(t, session.outputs.objects(t), width, height);
}

function officialFrame(t: number, session: VideoSession): FrameResult {
  const { width, height } = session.source.info;
  return toOfficialFrame(t, session.outputs.objects(t), width, height);
}


/** A file extension (which tells decoders the container) reduced to safe characters. */
const safeExtension = (name: string) => extname(name).toLowerCase().replace(/[^.a-z0-9]/g, "").slice(0, 16);
