import { randomUUID } from "node:crypto";
import { DIRECTIONS, Sam3Error, type PropagationDirection } from "../core";
import { setFrame } from "./lib/frame-message";
import { modelNode, numberFrom, registerInputNode, sessionIdOf, type NodeAPI, type NodeDef, type Sam3Message } from "./lib/node-kit";

interface PropagateConfig extends NodeDef {
  model: string;
  direction: PropagationDirection;
  start: string;
  maxFrames: string;
}

/**
 * Tracks a session's objects through the video: one message per frame on output 1 (with msg.parts, so a join node
 * rebuilds the sequence), a summary on output 2; msg.stop cancels.
 */
export = (RED: NodeAPI) =>
  registerInputNode<PropagateConfig>(RED, "sam3-propagate", (node, config) => {
    return async (msg, send) => {
      const model = modelNode(RED, node, config.model);
      const session_id = sessionIdOf(msg);
      const predictor = await model.video(node);
      if (msg.stop) {
        const { was_running } = await predictor.handleRequest({ type: "cancel_propagation", session_id });
        node.status({ fill: "grey", shape: "ring", text: was_running ? "cancelling" : "nothing to cancel" });
        return;
      }
      const direction = msg.direction ?? config.direction ?? "both";
      if (typeof direction !== "string" || !DIRECTIONS.some((d) => d === direction)) throw new Sam3Error("BAD_OPTION", "direction must be both, forward or backward");
      const partsId = randomUUID();
      const seen = new Set<number>();
      let index = 0;
      const stream = predictor.propagate(session_id, {
        direction: direction as PropagationDirection,
        start: numberFrom(msg.start, config.start, "start", "index"),
        maxFrames: numberFrom(msg.maxFrames, config.maxFrames, "maxFrames", "index"),
      });
      // each frame goes out when the next is ready: only the last carries parts.count (as the split node does
      // for streams), so a join in automatic mode completes even when the run is cancelled part way
      let pending: Sam3Message | undefined;
      for await (const frame of stream) {
        const { done, total, fps } = predictor.progress(session_id);
        if (pending) send([pending, null]);
        pending = setFrame(RED.util.cloneMessage(msg) as Sam3Message, frame);
        pending.parts = { id: partsId, index: index++, type: "array", len: 1 } as Sam3Message["parts"];
        frame.objects.forEach((o) => seen.add(o.id));
        node.status({ fill: "blue", shape: "ring", text: `${done}/${total} frames, ${fps.toFixed(1)} fps` });
      }
      if (pending) {
        pending.parts = { ...pending.parts!, count: index };
        send([pending, null]);
      }
      const progress = predictor.progress(session_id);
      const summary = RED.util.cloneMessage(msg) as Sam3Message;
      summary.payload = { frames: progress.done, total: progress.total, cancelled: progress.cancelled, fps: progress.fps, objects: [...seen].sort((a, b) => a - b) };
      node.status({ fill: progress.cancelled ? "grey" : "green", shape: "dot", text: `${progress.cancelled ? "cancelled after " : ""}${progress.done} frames, ${seen.size} objects` });
      send([null, summary]);
    };
  });
