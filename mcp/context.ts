import { Sam3 } from "../core/sam3";
import type { Device } from "../core/runtime/devices";
import { Sam3VideoPredictor } from "../core/video/predictor";
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
  /** Segmentation / tracking calls running at once at most. */
  maxJobs?: number;
  /** Largest decoded base64 image accepted, in bytes. */
  maxBase64Bytes?: number;
  /** Told about device fallbacks and the like (stderr for the stdio server: stdout carries the protocol). */
  log?: (message: string) => void;
}

/** What every connection of one server process shares: the model, the video sessions, the paths and the job cap. */
export class McpContext {
  readonly paths: MediaPaths;
  readonly jobs: JobLimiter;
  readonly maxBase64Bytes: number;
  private image?: Promise<Sam3>;
  private video?: Promise<Sam3VideoPredictor>;

  constructor(private readonly options: McpServerOptions = {}) {
    this.paths = new MediaPaths(options.roots?.length ? options.roots : [process.cwd()], options.outputDir ?? "sam3-output");
    this.jobs = new JobLimiter(options.maxJobs ?? 2);
    this.maxBase64Bytes = options.maxBase64Bytes ?? 20 * 2 ** 20;
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

  async close(): Promise<void> {
    const closing = [this.image?.then((s) => s.close()), this.video?.then((p) => p.close())];
    this.image = this.video = undefined;
    await Promise.all(closing.map((p) => p?.catch(() => undefined)));
  }

  private engineOptions() {
    return { model: this.options.model, device: this.options.device, intraOpThreads: this.options.threads, onWarning: this.options.log };
  }
}
