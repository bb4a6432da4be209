import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import { asSam3Error, Sam3Error } from "../../core";
import type { Sam3ModelNode } from "./model-node";

export type { Node, NodeAPI, NodeDef, NodeMessage };

/** A message as the sam3 nodes read it: any properties, the documented ones typed loosely. */
export type Sam3Message = NodeMessageInFlow & Record<string, unknown>;

type Send = (msg: NodeMessage | (NodeMessage | null)[]) => void;

export type InputHandler = (msg: Sam3Message, send: Send) => Promise<void>;

/** Longest error message a node reports: a message property echoed by a core error cannot flood the editor. */
const MAX_MESSAGE = 300;

/**
 * Registers a node type whose instances set up once (`setup` returns the message handler) and handle each message
 * the way Node-RED expects: done() on success, done(err) plus a red ring on failure, so a bad message never throws
 * into the runtime.
 */
export function registerInputNode<C extends NodeDef>(RED: NodeAPI, type: string, setup: (node: Node, config: C) => InputHandler) {
  function Sam3Node(this: Node, config: C) {
    RED.nodes.createNode(this, config);
    onInput(this, setup(this, config));
  }
  RED.nodes.registerType(type, Sam3Node as unknown as (this: Node, config: NodeDef) => void);
}

function onInput(node: Node, handler: InputHandler) {
  node.on("input", (msg, send, done) => {
    // Node-RED copies the message for catch and complete nodes: one that cannot be copied (a hostile object) must
    // not throw out of here, where nothing would catch it, so the error is then reported without the message
    const finish = (error?: Sam3Error) => {
      try {
        if (error) done(error);
        else done();
      } catch (e) {
        node.error(error ?? reported(e, node));
      }
    };
    handler(msg as Sam3Message, send).then(
      () => finish(),
      (e: unknown) => {
        const error = reported(e, node);
        node.status({ fill: "red", shape: "ring", text: statusText(error) });
        finish(error);
      },
    );
  });
}

/**
 * A failure's status under the node: its code in words, or the whole message where the code alone does not say
 * what to do (a pack that lacks what the node asked for: the message names it and a preset that has it).
 */
function statusText(error: Sam3Error): string {
  return error.code === "MISSING_CAPABILITY" ? error.message : error.code.toLowerCase().replace(/_/g, " ");
}

/**
 * The error a flow sees: a Sam3Error with its code and a bounded message, without the cause or the stack (Node-RED
 * copies both into msg.error, and they hold server paths); an unexpected failure is logged here and reported as
 * INTERNAL.
 */
function reported(e: unknown, node: Node): Sam3Error {
  const typed = asSam3Error(e, node.type);
  if (typed.code === "INTERNAL") node.log(`unexpected failure: ${(e as Error)?.stack ?? String(e)}`);
  const message = typed.message.length > MAX_MESSAGE ? `${typed.message.slice(0, MAX_MESSAGE)}...` : typed.message;
  const clean = new Sam3Error(typed.code, message);
  delete (clean as { stack?: string }).stack;
  return clean;
}

/** The sam3-model config node a node points at, or an error a user can act on. */
export function modelNode(RED: NodeAPI, node: Node, id: string | undefined): Sam3ModelNode {
  const model = id ? (RED.nodes.getNode(id) as Sam3ModelNode | null) : null;
  if (!model) throw new Sam3Error("BAD_OPTION", `${node.type}: choose a SAM 3 model (a sam3-model config node) in the node's settings`);
  return model;
}

/**
 * A number from a message property or the node's setting; "" and undefined mean unset. "index" asks for a whole
 * number >= 0 (frames, object ids, frame counts) and refuses anything else as a bad request, as an index out of
 * range is.
 */
export function numberFrom(value: unknown, fallback: unknown, name: string, kind: "number" | "index" = "number"): number | undefined {
  const raw = value ?? fallback;
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = typeof raw === "number" || typeof raw === "string" ? Number(raw) : NaN;
  const code = kind === "index" ? "BAD_REQUEST" : "BAD_OPTION";
  if (!Number.isFinite(n)) throw new Sam3Error(code, `${name} must be a number`);
  if (kind === "index" && !(Number.isSafeInteger(n) && n >= 0)) throw new Sam3Error(code, `${name} must be a whole number >= 0`);
  return n;
}

/** The session id a message carries: msg.session.id (from sam3-load-video) or msg.session as a string. */
export function sessionIdOf(msg: Sam3Message): string {
  const session = msg.session as { id?: unknown } | string | undefined;
  const id = typeof session === "string" ? session : session?.id;
  if (typeof id !== "string" || !id) throw new Sam3Error("BAD_REQUEST", "msg.session is missing: wire this node after sam3-load-video (or set msg.session to a session id)");
  return id;
}
