import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Confinement } from "../confine";
import { Sam3Error } from "../errors";
import { Sam3, type Sam3Options } from "../sam3";
import { openFrameSource } from "./frame-source";
import { MaskPromptTracker, type ObjectTracker } from "./object-tracker";
import { parseRequest, propagateRequest, videoRequest, type StartSessionRequest, type VideoRequest } from "./requests";
import { VIDEO_RULES, type VideoRules } from "./rules";
import { VideoSession, type FrameResult, type PropagationProgress } from "./session";

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
  /** Builds the per-object tracker; the default prompts the tracker decoder with the previous mask. */
  makeTracker?: (sam: Sam3, rules: VideoRules) => ObjectTracker;
}

export interface SessionInfo {
  session_id: string;
  resource_path: string;
  frames: number;
  width: number;
  height: number;
  fps: number;
  kind: "video" | "frames" | "image";
  /** Which ffmpeg decodes the video (system or bundled), or the image decoder. */
  decoder: string;
  /** Set when the video is truncated: its readable frames are still usable. */
  decode_error?: string;
  object_ids: number[];
  progress: PropagationProgress;
  last_used: string;
  expires_at: string;
}

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

/**
 * SAM 3's video predictor API (`handle_request` / `handle_stream_request` of the official code) over many
 * sessions, with a TTL, a session limit and a memory budget for decoded frames.
 */
export class Sam3VideoPredictor {
  private readonly sessions = new Map<string, VideoSession>();
  /** What to undo when a session closes (temporary upload files). */
  private readonly cleanups = new Map<string, () => Promise<void>>();
  /** Frame-cache bytes each session was granted. */
  private readonly cacheGrants = new Map<string, number>();
  private readonly tracker: ObjectTracker;
  private readonly rules: VideoRules;
  private readonly sweeper: NodeJS.Timeout;

  private constructor(readonly sam: Sam3, private readonly options: PredictorOptions) {
    this.rules = { ...VIDEO_RULES, ...options.rules };
    this.tracker = (options.makeTracker ?? ((s, r) => new MaskPromptTracker(s, r.presenceThreshold)))(sam, this.rules);
    this.sweeper = setInterval(() => void this.evictExpired(), Math.min(this.ttl, MINUTE)).unref();
  }

  static async open(options: PredictorOptions = {}): Promise<Sam3VideoPredictor> {
    return new Sam3VideoPredictor(await Sam3.open(options), options);
  }

  async handleRequest<R extends VideoRequest>(request: R): Promise<VideoResponse<R["type"]>> {
    const req = parseRequest(videoRequest, request);
    await this.evictExpired();
    const respond = (value: Responses[keyof Responses]) => value as VideoResponse<R["type"]>;
    switch (req.type) {
      case "start_session":
        return respond(await this.startSession(req));
      case "add_prompt":
        return respond(await this.session(req.session_id).addPrompt(req));
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
        return respond(this.info(this.session(req.session_id)));
      case "list_sessions":
        return respond({ sessions: [...this.sessions.values()].map((s) => this.info(s)) });
    }
  }

  /** `propagate_in_video`: yields {frame_index, outputs} per frame; breaking out of the loop stops it. */
  async *handleStreamRequest(request: { type: "propagate_in_video" } & Record<string, unknown>): AsyncGenerator<FrameResult> {
    const req = parseRequest(propagateRequest, request);
    yield* this.session(req.session_id).propagate(req);
  }

  /**
   * `start_session` on bytes rather than a path (an upload, a message buffer): they go to a private temporary
   * file that is deleted when the session closes.
   */
  async startSessionFromBytes(bytes: Uint8Array, fileName: string, request: Omit<StartSessionRequest, "type" | "resource_path"> = {}): Promise<SessionInfo> {
    const folder = await mkdtemp(join(tmpdir(), "sam3-upload-"));
    const path = join(folder, basename(fileName) || "video");
    try {
      await writeFile(path, bytes);
      const info = await this.startSession({ ...request, type: "start_session", resource_path: path });
      this.cleanups.set(info.session_id, () => rm(folder, { recursive: true, force: true }));
      return info;
    } catch (e) {
      await rm(folder, { recursive: true, force: true });
      throw e;
    }
  }

  /** The session itself, for faces that export its frames. */
  session(id: string): VideoSession {
    const session = this.sessions.get(id);
    if (!session) {
      throw new Sam3Error("UNKNOWN_SESSION", `no session "${id}" (it may have been closed or expired after ${Math.round(this.ttl / MINUTE)} min unused)`);
    }
    session.lastUsed = Date.now();
    return session;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.closeSession(id)));
    await this.sam.close();
  }

  private async startSession(req: StartSessionRequest): Promise<SessionInfo> {
    const id = req.session_id ?? randomUUID();
    if (this.sessions.has(id)) throw new Sam3Error("BAD_REQUEST", `session "${id}" already exists`);
    const maxSessions = this.options.maxSessions ?? 8;
    if (this.sessions.size >= maxSessions) {
      throw new Sam3Error("LIMIT_EXCEEDED", `${maxSessions} sessions are open, the limit: close one (close_session) first`);
    }
    const cacheBytes = req.cache_bytes ?? this.options.sessionCacheBytes ?? 256 * 2 ** 20;
    const budget = this.options.totalCacheBytes ?? 2 * 2 ** 30;
    const committed = [...this.cacheGrants.values()].reduce((a, b) => a + b, 0);
    if (committed + cacheBytes > budget) {
      throw new Sam3Error("LIMIT_EXCEEDED", `a ${mib(cacheBytes)} frame cache would exceed the ${mib(budget)} budget (${mib(committed)} in use): close a session or ask for a smaller cache_bytes`);
    }
    const source = await openFrameSource(req.resource_path, { maxSide: req.max_side, stride: req.stride, cacheBytes, confine: this.options.confine });
    const session = new VideoSession(id, source, this.sam, this.tracker, this.rules);
    this.sessions.set(id, session);
    this.cacheGrants.set(id, cacheBytes);
    return this.info(session);
  }

  private async closeSession(id: string) {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.cacheGrants.delete(id);
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

  private info(s: VideoSession): SessionInfo {
    const { info } = s.source;
    return {
      session_id: s.id,
      resource_path: s.source.path,
      frames: info.frames,
      width: info.width,
      height: info.height,
      fps: info.fps,
      kind: info.kind,
      decoder: info.decoder,
      ...(s.source.decodeError ? { decode_error: s.source.decodeError } : {}),
      object_ids: s.objectIds(),
      progress: s.progress,
      last_used: new Date(s.lastUsed).toISOString(),
      expires_at: new Date(s.lastUsed + this.ttl).toISOString(),
    };
  }
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
