import { DEFAULT_RETENTION, type Device, ModelHost, type ModelSummary, parseEngine, parseRetention, ResultRetention, type Sam3, type Sam3VideoPredictor } from "../core";
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
  /** "local" (default) or the URL of a Triton server the graphs run on. */
  engine?: string;
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
  /** How long results stay in the output folder: "24h", "2GiB", both ("24h,2GiB", the default) or "off". */
  retention?: string;
  /** Told about device fallbacks and the like (stderr for the stdio server: stdout carries the protocol). */
  log?: (message: string) => void;
}

const DEFAULT_MAX_BASE64_BYTES = 20 * 2 ** 20;
/** Room in one message for everything besides the base64 image: the JSON-RPC envelope and the other arguments. */
const MESSAGE_OVERHEAD_BYTES = 2 ** 20;

export type { ModelSummary };

/** What every connection of one server process shares: the model, the video sessions, the paths and the job cap. */
export class McpContext {
  readonly paths: MediaPaths;
  readonly jobs: JobLimiter;
  readonly maxBase64Bytes: number;
  readonly log?: (message: string) => void;
  /** host:port of the Triton server the graphs run on; undefined when they run in this process. */
  readonly remote?: string;
  private readonly host: ModelHost;
  private readonly retention?: ResultRetention;

  constructor(private readonly options: McpServerOptions = {}) {
    this.paths = new MediaPaths(options.roots?.length ? options.roots : [process.cwd()], options.outputDir ?? "sam3-output");
    this.jobs = new JobLimiter({ running: options.maxJobs ?? 2, waiting: options.maxQueue ?? 256, waitMs: options.queueTimeoutMs ?? 10 * 60_000 });
    this.maxBase64Bytes = options.maxBase64Bytes ?? DEFAULT_MAX_BASE64_BYTES;
    this.log = options.log;
    this.remote = parseEngine(options.engine)?.label;
    const policy = parseRetention(options.retention ?? DEFAULT_RETENTION);
    this.retention = policy && new ResultRetention(this.paths.outputDir, policy, options.log);
    // results left by an earlier run go at startup too
    void this.retention?.prune();
    this.host = new ModelHost({
      model: options.model,
      device: options.device,
      engine: options.engine,
      intraOpThreads: options.threads,
      onWarning: options.log,
      confine: this.paths.confine,
      maxSessions: options.maxSessions ?? 8,
    });
  }

  /** The largest message (stdio line or HTTP body) the server reads: a base64 image at the limit, and the rest. */
  get maxMessageBytes(): number {
    return Math.ceil(this.maxBase64Bytes / 3) * 4 + MESSAGE_OVERHEAD_BYTES;
  }

  /** The image engine, loaded on first use so the handshake stays fast. */
  sam(): Promise<Sam3> {
    return this.host.sam();
  }

  predictor(): Promise<Sam3VideoPredictor> {
    return this.host.predictor();
  }

  /** What the model can do, without loading it; a pack that cannot be opened is summarised by its error, paths scrubbed. */
  model(): ModelSummary {
    return this.host.summary((text) => this.paths.scrub(text));
  }

  /** A fresh folder for one job's results; older results are removed as the retention setting says. */
  jobFolder(label: string): Promise<string> {
    void this.retention?.prune();
    return this.paths.jobFolder(label);
  }

  /** The record of one client's video sessions. */
  clientSessions(): ClientSessions {
    return new ClientSessions(() => this.predictor());
  }

  close(): Promise<void> {
    this.retention?.close();
    return this.host.close();
  }
}
