import type { NodeStatus } from "node-red";
import { asSam3Error, DEFAULT_PRESET, describeCapabilities, LIMITS, ModelHost, parseDevice, parseEngine, promptGrammarScript, type Sam3, Sam3Error } from "../core";
import { servePresets } from "./lib/preset-admin";
import type { Sam3ModelNode } from "./lib/model-node";
import type { Node, NodeAPI, NodeDef } from "./lib/node-kit";

interface ModelConfig extends NodeDef {
  model: string;
  device: string;
  /** "local" or a Triton server's URL; absent in flows saved before the field existed (local). */
  engine?: string;
  threads: string | number;
  threshold: string | number;
  fineness: string | number;
}

/** The shared SAM 3 model: loaded once, lazily, for every node that points at it; released on redeploy. */
export = function register(RED: NodeAPI) {
  function Sam3Model(this: Sam3ModelNode, config: ModelConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    // the device and threads are checked at load time: a bad one fails the first message (with its status), not the whole node
    const host = new ModelHost(() => ({
      model: config.model || DEFAULT_PRESET,
      device: parseDevice(config.device || "cpu"),
      engine: config.engine || undefined,
      intraOpThreads: threadsOf(config.threads),
      onWarning: (message: string) => node.warn(message),
    }));
    // read per message, so a bad setting fails that message with its reason; empty keeps the pack's own default
    Object.defineProperty(node, "defaults", {
      get: (): Sam3ModelNode["defaults"] => ({ threshold: unitSetting(config.threshold, "Threshold"), fineness: unitSetting(config.fineness, "Fineness") }),
    });

    // config nodes have no status of their own: what the pack can do is shown on the nodes that use it
    const showOnUsers = (status: NodeStatus, except?: Node) =>
      RED.nodes.eachNode((n) => {
        if ((n as { model?: unknown }).model === node.id && n.id !== except?.id) RED.nodes.getNode(n.id)?.status(status);
      });
    let announced = false;
    /** "ready: clicks, ..." on the user, and the first time a pack loads on every node that uses this model. */
    const ready = (user: Node, sam: Sam3) => {
      const status: NodeStatus = { fill: "green", shape: "ring", text: `ready: ${describeCapabilities(sam.capabilities)}` };
      user.status(status);
      if (announced) return;
      announced = true;
      showOnUsers(status, user);
    };

    // an Engine URL that cannot be used is said at deploy, in red on the nodes that use this model, once they have
    // all started; each message that needs the model then fails with it too
    const badEngine = engineProblem(config.engine);
    const showBadEngine = () => showOnUsers({ fill: "red", shape: "ring", text: badEngine });
    if (badEngine) {
      node.error(badEngine);
      RED.events.once("flows:started", showBadEngine);
    }

    /** Shows "loading model" on the user until the load settles, then what the pack can do (or the failure). */
    const loading = <T>(user: Node, load: Promise<T>, sam: (value: T) => Sam3): Promise<T> => {
      let settled = false;
      load.then(
        () => (settled = true),
        () => (settled = true),
      );
      setImmediate(() => settled || user.status({ fill: "yellow", shape: "ring", text: "loading model" }));
      return load.then(
        (value) => {
          ready(user, sam(value));
          return value;
        },
        (e: Error) => {
          user.status({ fill: "red", shape: "ring", text: "model failed to load" });
          throw e;
        },
      );
    };

    node.image = (user) => loading(user, host.sam(), (s) => s);
    node.video = (user) => loading(user, host.predictor(), (p) => p.sam);

    node.on("close", (_removed: boolean, done: () => void) => {
      RED.events.removeListener("flows:started", showBadEngine);
      void host.close().then(() => done());
    });
  }
  RED.nodes.registerType("sam3-model", Sam3Model as unknown as (this: Node, config: NodeDef) => void);
  // the editor checks prompt fields with core's own grammar and messages (the nodes' .html load this script)
  RED.httpAdmin.get("/sam3/prompts.js", RED.auth.needsPermission("sam3.read"), (_req, res) => {
    try {
      res.type("application/javascript").send(promptGrammarScript());
    } catch (e) {
      res.status(500).type("text/plain").send(asSam3Error(e, "serving the prompt grammar").message);
    }
  });
  servePresets(RED);
};

/** The Threads setting: 0 or empty for one per core, else a whole number up to LIMITS.threads. */
function threadsOf(value: string | number | undefined): number | undefined {
  const n = Number(value || 0);
  if (!(Number.isInteger(n) && n >= 0 && n <= LIMITS.threads)) throw new Sam3Error("BAD_OPTION", `Threads must be a whole number from 0 to ${LIMITS.threads}`);
  return n || undefined;
}

/** Why the Engine setting cannot be used (core's message), or undefined when it can. */
function engineProblem(engine: string | undefined): string | undefined {
  try {
    parseEngine(engine);
    return undefined;
  } catch (e) {
    return asSam3Error(e, "reading the Engine setting").message;
  }
}

/** A 0..1 setting of the model node; empty for the pack's own default. */
function unitSetting(value: string | number | undefined, name: string): number | undefined {
  if (value === "" || value === undefined) return undefined;
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new Sam3Error("BAD_OPTION", `${name} of the model must be a number from 0 to 1, got "${String(value).slice(0, 20)}"`);
  return n;
}
