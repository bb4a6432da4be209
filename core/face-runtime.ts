import { asSam3Error } from "./errors";
import { describeCapabilities } from "./pack/capabilities";
import { openPack } from "./pack/open";
import { DEFAULT_PRESET } from "./pack/presets";
import { Sam3 } from "./sam3";
import { Sam3VideoPredictor, type PredictorOptions } from "./video/predictor";

/** The model as a face shows it before loading: its name and what it can do, or why its pack cannot be opened. */
export type ModelSummary = { name: string; can: string } | { name: string; error: string };

/**
 * The model a face serves (the Node-RED config node, the MCP server, the web UI): the image engine and the video
 * predictor, each loaded on first use and shared by every caller, reloaded after a failed load, released by close.
 * Thresholds stay the pack's own unless the caller's request says otherwise.
 */
export class ModelHost {
  private image?: Promise<Sam3>;
  private video?: Promise<Sam3VideoPredictor>;
  private summaryCache?: ModelSummary;

  /** `options` may be a function: it runs at load time, so a bad setting fails the load (and says so), not the face. */
  constructor(private readonly options: PredictorOptions | (() => PredictorOptions) = {}) {}

  /** The image engine, loaded on first use (so a server's handshake stays fast). */
  sam(): Promise<Sam3> {
    this.image ??= Promise.resolve().then(() => Sam3.open(this.settings()));
    this.image.catch(() => (this.image = undefined));
    return this.image;
  }

  /** The video predictor: its sessions live as long as this host. */
  predictor(): Promise<Sam3VideoPredictor> {
    this.video ??= Promise.resolve().then(() => Sam3VideoPredictor.open(this.settings()));
    this.video.catch(() => (this.video = undefined));
    return this.video;
  }

  /** Both engines at once (what a server that serves images and videos waits for). */
  both(): Promise<[Sam3, Sam3VideoPredictor]> {
    return Promise.all([this.sam(), this.predictor()]);
  }

  /**
   * What the model can do, read once from its manifest and graph headers without loading it. A pack that cannot be
   * opened is summarised by its error (`scrub` removes server paths from it); it is read again next time.
   */
  summary(scrub: (text: string) => string = (t) => t): ModelSummary {
    if (this.summaryCache) return this.summaryCache;
    let ref = DEFAULT_PRESET;
    try {
      ref = this.settings().model ?? DEFAULT_PRESET;
      const pack = openPack(ref);
      return (this.summaryCache = { name: pack.manifest.name, can: describeCapabilities(pack.capabilities) });
    } catch (e) {
      const error = asSam3Error(e, "opening the model pack");
      return { name: scrub(ref), error: `${error.code}: ${scrub(error.message)}` };
    }
  }

  private settings(): PredictorOptions {
    return typeof this.options === "function" ? this.options() : this.options;
  }

  /** Releases whatever was loaded; a later call loads again. */
  async close(): Promise<void> {
    const closing = [this.image?.then((s) => s.close()), this.video?.then((p) => p.close())];
    this.image = this.video = undefined;
    await Promise.all(closing.map((p) => p?.catch(() => undefined)));
  }
}
