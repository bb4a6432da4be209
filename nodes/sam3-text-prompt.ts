import { parseConcepts, Sam3Error } from "../core";
import { setFrame } from "./lib/frame-message";
import { modelNode, numberFrom, registerInputNode, sessionIdOf, type NodeAPI, type NodeDef } from "./lib/node-kit";

interface TextPromptConfig extends NodeDef {
  model: string;
  text: string;
  frame: string;
}

/** Gives a video session a concept ("person"): every instance is found, on this frame now and on all of them when propagating. */
export = (RED: NodeAPI) =>
  registerInputNode<TextPromptConfig>(RED, "sam3-text-prompt", (node, config) => {
    return async (msg, send) => {
      const model = modelNode(RED, node, config.model);
      const session_id = sessionIdOf(msg);
      const text = parseConcepts(msg.text ?? config.text);
      if (!text || (typeof text === "string" && !text.trim())) throw new Sam3Error("BAD_PROMPT", "no text prompt: set Text in the node or msg.text");
      const frame_index = numberFrom(msg.frame, config.frame, "frame", "index") ?? 0;
      const predictor = await model.video(node);
      const result = await predictor.addPrompt(session_id, { frame: frame_index, text });
      node.status({ fill: "green", shape: "dot", text: `${result.objects.length} found on frame ${frame_index}` });
      send(setFrame(msg, result));
    };
  });
