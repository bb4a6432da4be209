import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow, NodeStatus } from "node-red";
import type { Browser, Page } from "playwright-core";
import { expect, vi, type MockInstance } from "vitest";
import type { Sam3VideoPredictor } from "../../core/video/predictor";
import type { Sam3ModelNode } from "../../nodes/lib/model-node";
import { REPO } from "./reference";

/**
 * Node-RED test harness for the COMPILED nodes (dist/nodes/*.js) on the real runtime (node-red-node-test-helper):
 * flows on one tab with a catch node, inboxes on helper nodes, status spies and error expectations.
 *
 * Everything the nodes load (dist/core/..., node-red, onnxruntime) is loaded by Node's own require, never through
 * vitest's module graph, so the test sees the same module instances as the nodes (Sam3.loadedModels() included).
 */
const requireNative = createRequire(join(REPO, "package.json"));

/** A node module as Node-RED loads it: `module.exports = function (RED) {...}`. */
export type NodeModule = (RED: NodeAPI) => void | Promise<void>;

/** One node of a flow as the editor exports it. */
export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  name?: string;
  wires?: string[][];
  [setting: string]: unknown;
}

/** node-red-node-test-helper 0.3.6 has no types: what these tests use of it. */
interface TestHelper {
  init(runtimePath: string, userSettings?: Record<string, unknown>): void;
  load(nodes: NodeModule | NodeModule[], flow: FlowNode[], credentials?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): Node | null;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
}

export const helper = requireNative("node-red-node-test-helper") as TestHelper;
helper.init(requireNative.resolve("node-red"));

/** The package's Node-RED nodes as its package.json declares them: type name -> compiled file (dist/nodes). */
const DECLARED_NODES: Record<string, string> = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"))["node-red"].nodes;
export const NODE_NAMES = Object.keys(DECLARED_NODES);

/** The compiled node modules, loaded from the files package.json's "node-red" section points at. */
export const NODES = Object.fromEntries(Object.entries(DECLARED_NODES).map(([name, file]) => [name, requireNative(join(REPO, file)) as NodeModule]));

/** The core split / join nodes (one module registers both). */
export const SPLIT_JOIN = requireNative("@node-red/nodes/core/sequence/17-split.js") as NodeModule;

/** The engine module the compiled nodes use (same instance: its loaded-model count is theirs). */
export const distSam3 = requireNative(join(REPO, "dist", "core", "sam3.js")) as typeof import("../../core/sam3");

export const TAB = "tab";
export const MODEL = "model";
export const ERRORS = "errors";
export const PACK = "sam3-tiny-336";

/** A message as the tests read it. */
export type Msg = NodeMessageInFlow & Record<string, unknown>;

/** What a catch node adds to the failed message. */
export interface CaughtError {
  message: string;
  code?: string;
  source: { id: string; type: string; name?: string; count: number };
}

/** The sam3-model config node on the bundled 336 pack. */
export function modelConfig(settings: Partial<FlowNode> = {}): FlowNode {
  return { id: MODEL, type: "sam3-model", name: "", model: PACK, device: "cpu", threads: "", threshold: "", fineness: "", ...settings };
}

/** Settings of a node that may read files named by messages: those inside `folder` (default the temporary folder). */
export const messagePaths = (folder = tmpdir()) => ({ paths: "folder", pathFolder: folder });

/** A sam3-segment-image node on the flow's model, wired to `out`, with the editor's empty settings unless given. */
export const segmentImageNode = (id: string, out: string | string[], settings: Partial<FlowNode> = {}): FlowNode => ({
  id,
  type: "sam3-segment-image",
  name: "",
  model: MODEL,
  property: "",
  text: "",
  points: "",
  boxes: "",
  threshold: "",
  fineness: "",
  overlay: false,
  masks: false,
  wires: [[out].flat()],
  ...settings,
});

/** A helper node: it records what reaches it. */
export const sink = (id: string): FlowNode => ({ id, type: "helper" });

const DEFAULT_WAIT_MS = 45_000;

/** Messages reaching one helper node, taken in order; waits fail with a clear error instead of hanging. */
export class Inbox {
  readonly messages: Msg[] = [];
  private taken = 0;
  private readonly events = new EventEmitter();

  constructor(readonly id: string, node: Node) {
    node.on("input", (msg) => {
      this.messages.push(msg as Msg);
      this.events.emit("message");
    });
  }

  /** Messages arrived but not yet taken. */
  get pending(): number {
    return this.messages.length - this.taken;
  }

  /** Takes everything pending without waiting. */
  drain(): Msg[] {
    const out = this.messages.slice(this.taken);
    this.taken = this.messages.length;
    return out;
  }

  /** The next message; rejects if `failOn` (the errors inbox) receives one first, or after `timeoutMs`. */
  next(options: { timeoutMs?: number; failOn?: Inbox } = {}): Promise<Msg> {
    return this.take(1, options).then(([msg]) => msg);
  }

  /** The next `count` messages, in arrival order. */
  take(count: number, { timeoutMs = DEFAULT_WAIT_MS, failOn }: { timeoutMs?: number; failOn?: Inbox } = {}): Promise<Msg[]> {
    return new Promise((resolve, reject) => {
      const failedBefore = failOn?.messages.length ?? 0;
      const check = () => {
        if (failOn && failOn.messages.length > failedBefore) {
          const error = failOn.messages[failedBefore].error as CaughtError;
          failOn.drain(); // reported here: it must not answer a later wait
          finish();
          reject(new Error(`expected ${count} message(s) on ${this.id}, but ${error.source.type} ${error.source.id} failed: ${error.message}`));
        } else if (this.pending >= count) {
          finish();
          resolve(this.messages.slice(this.taken, (this.taken += count)));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} message(s) on ${this.id} (${this.pending} arrived)`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.events.off("message", check);
        failOn?.events.off("message", check);
      };
      this.events.on("message", check);
      failOn?.events.on("message", check);
      check();
    });
  }
}

/** The red ring onInput sets on a failure. */
export const RED_RING = { fill: "red", shape: "ring" } as const;

/**
 * A deployed flow: every node on one tab, a catch node (all nodes in scope) wired to the helper node "errors",
 * an inbox on every helper node and a status spy on every other node.
 */
export class TestFlow {
  readonly inboxes = new Map<string, Inbox>();
  private readonly statusSpies = new Map<string, MockInstance<(status: string | NodeStatus) => void>>();

  private constructor(readonly flow: FlowNode[]) {}

  /**
   * Deploys `nodes` (sam3-model config nodes stay global, everything else goes on the tab) plus the catch node.
   * `modules` are extra node modules beside the sam3 ones (the core join node...).
   */
  static async load(nodes: FlowNode[], modules: NodeModule[] = []): Promise<TestFlow> {
    const flow: FlowNode[] = [
      { id: TAB, type: "tab", label: "sam3 tests" },
      ...nodes.map((n) => (n.type === "sam3-model" || n.z ? n : { ...n, z: TAB })),
      { id: "catcher", type: "catch", z: TAB, name: "", scope: null, uncaught: false, wires: [[ERRORS]] },
      { id: ERRORS, type: "helper", z: TAB },
    ];
    for (const n of flow) if (n.type !== "tab" && n.type !== "sam3-model" && !n.wires) n.wires = [];
    await helper.load([...Object.values(NODES), ...modules], flow);
    const loaded = new TestFlow(flow);
    for (const n of flow) {
      const node = helper.getNode(n.id);
      if (n.type === "tab") continue;
      if (!node) {
        // a node whose constructor threw: stop the half-started flow so the next test starts clean
        await helper.unload();
        throw new Error(`node ${n.id} (${n.type}) was not created`);
      }
      if (n.type === "helper") loaded.inboxes.set(n.id, new Inbox(n.id, node));
      else loaded.statusSpies.set(n.id, vi.spyOn(node, "status"));
    }
    return loaded;
  }

  node(id: string): Node {
    const node = helper.getNode(id);
    if (!node) throw new Error(`no node ${id} in the flow`);
    return node;
  }

  model(id = MODEL): Sam3ModelNode {
    return this.node(id) as Sam3ModelNode;
  }

  /**
   * The video predictor behind a sam3-model node (the one its nodes use), fetched on behalf of a silent stand-in so
   * no node's status changes.
   */
  predictor(id = MODEL): Promise<Sam3VideoPredictor> {
    const silent = { status: () => undefined } as unknown as Node;
    return this.model(id).video(silent);
  }

  /** Closes every session of the model node's predictor (each reserves frame-cache budget until closed). */
  async closeSessions(id = MODEL): Promise<void> {
    const predictor = await this.predictor(id);
    const { sessions } = await predictor.handleRequest({ type: "list_sessions" });
    for (const s of sessions) await predictor.handleRequest({ type: "close_session", session_id: s.session_id });
  }

  inbox(id: string): Inbox {
    const inbox = this.inboxes.get(id);
    if (!inbox) throw new Error(`no helper node ${id} in the flow`);
    return inbox;
  }

  get errors(): Inbox {
    return this.inbox(ERRORS);
  }

  /** Every status a node has set, in order. */
  statuses(id: string): (string | NodeStatus)[] {
    const spy = this.statusSpies.get(id);
    if (!spy) throw new Error(`no status spy on ${id}`);
    return spy.mock.calls.map(([s]) => s);
  }

  lastStatus(id: string): string | NodeStatus | undefined {
    return this.statuses(id).at(-1);
  }

  /** Sends `msg` into node `id` and returns the next message on helper node `out` (fails fast on a caught error). */
  async request(id: string, msg: NodeMessage, out: string): Promise<Msg> {
    const reply = this.inbox(out).next({ failOn: this.errors });
    this.node(id).receive(msg);
    return reply;
  }

  /**
   * Sends `msg` into node `id`, expects it to fail through done(err): the catch node gets the message with
   * msg.error from that node, the node shows a red ring and sends nothing on `outs`. Returns the caught error.
   */
  async failure(id: string, msg: NodeMessage, outs: string[] = []): Promise<CaughtError> {
    expect(this.errors.drain().map((m) => (m.error as CaughtError).message), "errors left over from before").toEqual([]);
    const before = outs.map((o) => this.inbox(o).pending);
    const caught = this.errors.next();
    this.node(id).receive(msg);
    const error = (await caught).error as CaughtError;
    expect(error.source.id).toBe(id);
    expect(typeof error.message).toBe("string");
    expect(this.lastStatus(id)).toMatchObject(RED_RING);
    // give a stray send a chance to arrive before checking there was none
    await new Promise((r) => setTimeout(r, 20));
    expect(outs.map((o) => this.inbox(o).pending)).toEqual(before);
    return error;
  }

  /** Fails the test if any error reached the catch node and was not expected. */
  expectNoErrors() {
    expect(this.errors.drain().map((m) => (m.error as CaughtError).message)).toEqual([]);
  }

  unload(): Promise<void> {
    return helper.unload();
  }
}

/** Runs `work` and measures how long it took (close / unload timings). */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

/** A real Node-RED runtime in a subprocess, with this package installed in its user directory. */
export interface NodeRedRuntime {
  /** http://127.0.0.1:<port> (editor, admin API and the flows' HTTP endpoints). */
  readonly base: string;
  readonly userDir: string;
  /** The runtime's peak resident memory so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** Everything the runtime printed. */
  log(): string;
  /** Deploys `flows` (a full deployment) and waits until `readyUrl`, one of their endpoints, answers. */
  deploy(flows: FlowNode[], readyUrl?: string): Promise<void>;
  /** True while the process runs and its admin API answers GET /flows. */
  alive(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Where Node-RED finds the package's example flows (menu > Import > Examples): its examples/ folder. */
export const EXAMPLES_DIR = join(REPO, "examples");

/** The example flows' names, as the editor lists them (the .json files of examples/). */
export const exampleNames = (): string[] =>
  readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length))
    .sort();

/** One example flow, as shipped. */
export const exampleFlow = (name: string): FlowNode[] => JSON.parse(readFileSync(join(EXAMPLES_DIR, `${name}.json`), "utf8"));

/** Every example flow as shipped, imported together: the config node they share appears once, as the editor's import keeps it. */
export function exampleFlows(): FlowNode[] {
  const byId = new Map<string, FlowNode>();
  for (const node of exampleNames().flatMap(exampleFlow)) if (!byId.has(node.id)) byId.set(node.id, node);
  return [...byId.values()];
}

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Node-RED on a loopback port with the package linked into a fresh user directory, as `npm install <folder>`
 * does; `env` is added to the runtime's environment (a models folder, a mirror to fetch from), `settings` to its
 * settings.js (adminAuth...), `palette` names other node packages of this repo's node_modules to install beside it
 * (@flowfuse/node-red-dashboard).
 */
export async function startNodeRed(env: Record<string, string> = {}, settings: Record<string, unknown> = {}, palette: string[] = []): Promise<NodeRedRuntime> {
  const userDir = mkdtempSync(join(tmpdir(), "sam3-node-red-"));
  const name = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { name: string }).name;
  const installed: Record<string, string> = { [name]: REPO };
  for (const extra of palette) installed[extra] = join(REPO, "node_modules", extra);
  for (const [pkg, folder] of Object.entries(installed)) {
    mkdirSync(dirname(join(userDir, "node_modules", pkg)), { recursive: true });
    symlinkSync(folder, join(userDir, "node_modules", pkg), "dir");
  }
  const dependencies = Object.fromEntries(Object.entries(installed).map(([pkg, folder]) => [pkg, `file:${folder}`]));
  writeFileSync(join(userDir, "package.json"), JSON.stringify({ name: "node-red-project", private: true, dependencies }));
  const port = await freePort();
  writeFileSync(
    join(userDir, "settings.js"),
    `module.exports = { uiHost: "127.0.0.1", uiPort: ${port}, flowFile: "flows.json", credentialSecret: false, editorTheme: { tours: false }, telemetry: { enabled: false }, logging: { console: { level: "warn" } }, ...${JSON.stringify(settings)} };\n`,
  );
  const base = `http://127.0.0.1:${port}`;
  let log = "";
  const red: ChildProcess = spawn(process.execPath, [requireNative.resolve("node-red/red.js"), "--userDir", userDir, "--settings", join(userDir, "settings.js")], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  red.stdout!.on("data", (d) => (log += d));
  red.stderr!.on("data", (d) => (log += d));

  const waitFor = async (url: string, timeoutMs: number) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (await fetch(url).then((r) => r.ok, () => false)) return;
      if (red.exitCode !== null) throw new Error(`Node-RED exited:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${url} did not answer in time:\n${log}`);
  };
  // with adminAuth, /settings answers 401 until the runtime is up
  await waitFor(`${base}/auth/login`, 60_000);

  return {
    base,
    userDir,
    log: () => log,
    peakRssMiB: () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${red.pid}/status`, "utf8"))![1]) / 1024,
    async deploy(flows, readyUrl) {
      const response = await fetch(`${base}/flows`, { method: "POST", headers: { "content-type": "application/json", "node-red-deployment-type": "full" }, body: JSON.stringify(flows) });
      if (response.status >= 300) throw new Error(`deploy failed (${response.status}): ${await response.text()}`);
      // the deploy answers before every node has started: wait for the flows' own HTTP endpoints
      if (readyUrl) await waitFor(readyUrl, 15_000);
    },
    async alive() {
      return red.exitCode === null && (await fetch(`${base}/flows`, { headers: { accept: "application/json" } }).then((r) => r.ok, () => false));
    },
    async stop() {
      if (red.exitCode === null && red.signalCode === null) {
        const exited = new Promise((r) => red.once("exit", r));
        red.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      }
      rmSync(userDir, { recursive: true, force: true });
      if (red.exitCode === null && red.signalCode === null) throw new Error("Node-RED did not stop within 15 s");
    },
  };
}

/** The Node-RED editor open in a browser page, with every URL the page requested. */
export interface EditorPage {
  page: Page;
  requests: string[];
}

/** Opens the runtime's editor in a fresh page and waits until the sam3 node types have registered. */
export async function openEditor(browser: Browser, runtime: NodeRedRuntime): Promise<EditorPage> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(runtime.base);
  await page.waitForFunction((types) => types.every((t) => (window as unknown as { RED?: { nodes?: { getType(t: string): unknown } } }).RED?.nodes?.getType(t)), NODE_NAMES, { timeout: 60_000 });
  return { page, requests };
}
