import { basename } from "node:path";
import { CAPABILITY_LABELS, type Capability, describeCapabilities, type Device, Sam3, Sam3VideoPredictor, type VideoRules } from "../core";
import { errorReply, hidePaths, WebError } from "./http";

/** Video sessions the server's predictor holds open, shared by every client. */
export const VIDEO_SESSIONS = 8;

/** The server's one model and video predictor, loading in the background from the start. */
export class UiModels {
  private loaded?: [Sam3, Sam3VideoPredictor];
  private error?: string;
  private readonly loading: Promise<[Sam3, Sam3VideoPredictor]>;

  constructor(private readonly options: { model?: string; device?: Device; rules?: Partial<VideoRules> }, log: (line: string) => void) {
    const engine = { model: options.model, device: options.device };
    this.loading = Promise.all([Sam3.open(engine), Sam3VideoPredictor.open({ ...engine, rules: options.rules, maxSessions: VIDEO_SESSIONS })]);
    this.loading.then((l) => (this.loaded = l), (e) => (this.error = errorReply(e, log).body.error));
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

  /** What /api/info answers: the model, whether it is ready, and what it can do. */
  info(): object {
    const sam = this.loaded?.[0];
    return {
      model: sam?.pack.manifest.name ?? basename(this.options.model ?? "sam3-tiny-336"),
      description: sam?.pack.manifest.description ?? "",
      device: sam?.device.active ?? this.options.device ?? "cpu",
      ready: !!this.loaded,
      ...(sam ? capabilityReport(sam) : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  async close(): Promise<void> {
    const [sam, predictor] = await this.loading.catch(() => [] as unknown as [Sam3, Sam3VideoPredictor]);
    await Promise.all([sam?.close(), predictor?.close()]);
  }

  private async ready(): Promise<[Sam3, Sam3VideoPredictor]> {
    if (this.error) throw new WebError(503, "PACK_INVALID", `the model failed to load: ${this.error}`);
    return this.loaded ?? (await this.loading);
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
