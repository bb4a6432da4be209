import { basename } from "node:path";
import { CAPABILITY_LABELS, type Capability, describeCapabilities, type Device, ModelHost, parseEngine, type Sam3, type Sam3VideoPredictor, type VideoRules } from "../core";
import { errorReply, hidePaths, WebError } from "./http";

/** Video sessions the server's predictor holds open, shared by every client. */
export const VIDEO_SESSIONS = 8;

/** Core's ModelHost, loading both engines from the start; what /api/info reports of it (ready, or why not). */
export class UiModels {
  private readonly host: ModelHost;
  private loaded?: [Sam3, Sam3VideoPredictor];
  private error?: string;
  private loading!: Promise<[Sam3, Sam3VideoPredictor]>;

  /** host:port of the Triton server the graphs run on, named before the model has loaded too. */
  private readonly remote?: string;

  constructor(
    private readonly options: { model?: string; device?: Device; engine?: string; rules?: Partial<VideoRules> },
    private readonly log: (line: string) => void,
  ) {
    this.remote = parseEngine(options.engine)?.label;
    this.host = new ModelHost({ model: options.model, device: options.device, engine: options.engine, rules: options.rules, maxSessions: VIDEO_SESSIONS });
    this.load();
  }

  /** The predictor when loaded (closing a session needs nothing loaded otherwise). */
  get predictor(): Sam3VideoPredictor | undefined {
    return this.loaded?.[1];
  }

  async sam(): Promise<Sam3> {
    return (await this.ready())[0];
  }

  async video(): Promise<Sam3VideoPredictor> {
    return (await this.ready())[1];
  }

  /** What /api/info answers: the model, where it runs, whether it is ready, and what it can do. */
  info(): object {
    // the page polls this while the load has failed: each poll tries again, so it turns ready without a restart
    if (this.error && !this.loaded) void this.load();
    const sam = this.loaded?.[0];
    return {
      model: sam?.pack.manifest.name ?? basename(this.options.model ?? "sam3-tiny-336"),
      description: sam?.pack.manifest.description ?? "",
      device: sam?.device.active ?? this.options.device ?? "cpu",
      ...(this.remote ? { remote: sam?.device.remote ?? this.remote } : {}),
      ready: !!this.loaded,
      ...(sam ? capabilityReport(sam) : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  async close(): Promise<void> {
    await this.loading.catch(() => undefined);
    await this.host.close();
  }

  /** Starts a load; a failed one stays reported (in /api/info) until a later one succeeds. */
  private load(): Promise<[Sam3, Sam3VideoPredictor]> {
    const attempt = (this.loading = this.host.both());
    attempt.then(
      (l) => ((this.loaded = l), (this.error = undefined)),
      (e) => void (this.loading === attempt && (this.error = errorReply(e, this.log).body.error)),
    );
    return attempt;
  }

  // a failed load is tried again by the next request: a remote server that was down may be up now
  private async ready(): Promise<[Sam3, Sam3VideoPredictor]> {
    if (this.loaded) return this.loaded;
    try {
      return await (this.error ? this.load() : this.loading);
    } catch (e) {
      const { status, body } = errorReply(e, this.log);
      throw new WebError(status, body.code, `the model failed to load: ${body.error}`);
    }
  }
}

/**
 * What the loaded pack can do (in words too), and for each thing it cannot the message a request for it is
 * answered with: the page disables those controls and says why in their tooltips.
 */
function capabilityReport(sam: Sam3) {
  const unavailable: Partial<Record<Capability, string>> = {};
  for (const capability of Object.keys(CAPABILITY_LABELS) as Capability[]) {
    const why = sam.missing(capability);
    if (why) unavailable[capability] = hidePaths(why);
  }
  return { capabilities: sam.capabilities, can: describeCapabilities(sam.capabilities), unavailable };
}
