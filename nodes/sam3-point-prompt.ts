import { parseBoxes, parsePoints, Sam3Error } from "../core";
import { setFrame } from "./lib/frame-message";
import { modelNode, numberFrom, registerInputNode, sessionIdOf, type NodeAPI, type NodeDef } from "./lib/node-kit";

interface PointPromptConfig extends NodeDef {
  model: string;
  points: string;
  box: string;
  objId: string;
  frame: string;
  coordinates: "pixels" | "relative";
}

/** Adds or refines one object of a video session by clicks (positive / negative) and / or a box on a frame. */
export = (RED: NodeAPI) =>
  registerInputNode<PointPromptConfig>(RED, "sam3-point-prompt", (node, config) => {
    return async (msg, send) => {
      const model = modelNode(RED, node, config.model);
      const session_id = sessionIdOf(msg);
      const points = parsePoints(msg.points ?? config.points);
      const boxes = parseBoxes(msg.box ?? config.box);
      if (!points.length && !boxes.length) throw new Sam3Error("BAD_PROMPT", "no prompt: set Points and / or Box in the node, or msg.points / msg.box");
      if (boxes.length > 1) throw new Sam3Error("BAD_PROMPT", "one box per object: msg.box must be a single box");
      const obj_id = numberFrom(msg.objId, config.objId, "objId", "index");
      if (obj_id === undefined) throw new Sam3Error("BAD_PROMPT", "no object id: set Object id in the node or msg.objId");
      const frame_index = numberFrom(msg.frame, config.frame, "frame", "index") ?? 0;
      const coordinates = msg.coordinates ?? config.coordinates ?? "pixels";
      if (coordinates !== "pixels" && coordinates !== "relative") throw new Sam3Error("BAD_OPTION", "coordinates must be pixels or relative");
      const predictor = await model.video(node);
      const result = await predictor.addPrompt(session_id, { frame: frame_index, objectId: obj_id, points, boxes, coordinates });
      node.status({ fill: "green", shape: "dot", text: `object ${obj_id} on frame ${frame_index}` });
      send(setFrame(msg, result));
    };
  });
