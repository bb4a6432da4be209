import { asSam3Error, DEFAULT_PRESET, describeCapabilities, type Device, openPack, Sam3, Sam3VideoPredictor } from "../core";
import { ClientSessions } from "./client-sessions";
import { JobLimiter } from "./job-limiter";
import { MediaPaths } from "./media-paths";

export interface McpServerOptions {
  /** Folders media may be read from (default: the working directory). */
  roots?: string[];
  /** Where results are written (default: ./sam3-output). */
  outputDir?: string;
  model?: string;
  device?: Device;
  threads?: number;
  /** Open video sessions at most. */
  maxSessions?: number;
  /** Model-running tool calls at once at most. */
  maxJobs?: number;
  /** Model-running tool calls waiting for a free slot at most (default 256). */
  maxQueue?: number;
  /** How long a call may wait for a free slot (default 10 minutes). */
  queueTimeoutMs?: number;
  /** Largest decoded base64 image accepted, in bytes. */
  maxBase64Bytes?: number;
  /** Told about device fallbacks and the like (stderr for the stdio server: stdout carries the protocol). */
  log?: (message: string) => void;
}

/** The model as a client is told about it: its name and what it can do, or why its pack cannot be opened. */
export type ModelSummary = { name: string; can: string } | { name: string; error: string };

const DEFAULT_MAX_BASE64_BYTES = 20 * 2 ** 20;
/** Room in one message for everything besides the base64 image: the JSON-RPC envelope and the other arguments. */
const MESSAGE_OVERHEAD_BYTES = 2 ** 20;

/** What every connection of one server process shares: the model, the video sessions, the paths and the job cap. */
export class McpContext {
  readonly paths: MediaPaths;
  readonly jobs: JobLimiter;
  readonly maxBase64Bytes: number;
  readonly log?: (message: string) => void;
  private image?: Promise<Sam3>;
  private video?: Promise<Sam3VideoPredictor>;
  private summary?: ModelSummary;

  constructor(private readonly options: McpServerOptions = {}) {
    this.paths = new MediaPaths(options.roots?.length ? options.roots : [process.cwd()], options.outputDir ?? "sam3-output");
    this.jobs = new JobLimiter({ running: options.maxJobs ?? 2, waiting: options.maxQueue ?? 256, waitMs: options.queueTimeoutMs ?? 10 * 60_000 });
    this.maxBase64Bytes = options.maxBase64Bytes ?? DEFAULT_MAX_BASE64_BYTES;
    this.log = options.log;
  }

  /** The largest message (stdio line or HTTP body) the server reads: a base64 image at the limit, and the rest. */
  get maxMessageBytes(): number {
    return Math.ceil(this.maxBase64Bytes / 3) * 4 + MESSAGE_OVERHEAD_BYTES;
  }

  /** The image engine, loaded on first use so the handshake stays fast. */
  sam(): Promise<Sam3> {
    this.image ??= Sam3.open(this.engineOptions());
    this.image.catch(() => (this.image = undefined));
    return this.image;
  }

  predictor(): Promise<Sam3VideoPredictor> {
    this.video ??= Sam3VideoPredictor.open({ ...this.engineOptions(), maxSessions: this.options.maxSessions ?? 8 });
    this.video.catch(() => (this.video = undefined));
    return this.video;
  }

  /**
   * What the model can do, read once from its manifest and graph headers without loading it (the engine still
   * loads on first use). A pack that cannot be opened is summarised by its error, scrubbed of server paths: the
   * tools then fail with that error until it can.
   */
  model(): ModelSummary {
    const ref = this.options.model ?? DEFAULT_PRESET;
    if (!this.summary) {
      try {
        const pack = openPack(ref);
        this.summary = { name: pack.manifest.name, can: describeCapabilities(pack.capabilities) };
      } catch (e) {
        const error = asSam3Error(e, "opening the model pack");
        return { name: this.paths.scrub(ref), error: `${error.code}: ${this.paths.scrub(error.message)}` };
      }
    }
    return this.summary;
  }

  /** The record of one client's video sessions. */
  clientSessions(): ClientSessions {
    return new ClientSessions(() => this.predictor());
  }

  async close(): Promise<void> {
    const closing = [this.image?.then((s) => s.close()), this.video?.then((p) => p.close())];
    this.image = this.video = undefined;
    await Promise.all(closing.map((p) => p?.catch(() => undefined)));
  }

  private engineOptions() {
    return { model: this.options.model, device: this.options.device, intraOpThreads: this.options.threads, onWarning: this.options.log, confine: this.paths.confine };
  }
}
