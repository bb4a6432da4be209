import { LIMITS, Sam3Error } from "../core";
import { modelNode, registerInputNode, sessionIdOf, type NodeAPI, type NodeDef } from "./lib/node-kit";

interface RemoveObjectConfig extends NodeDef {
  model: string;
  objIds: string;
}

/** Removes objects from a video session, from every frame, without re-running anything. */
export = (RED: NodeAPI) =>
  registerInputNode<RemoveObjectConfig>(RED, "sam3-remove-object", (node, config) => {
    return async (msg, send) => {
      const model = modelNode(RED, node, config.model);
      const session_id = sessionIdOf(msg);
      const ids = objectIds(msg.objIds ?? msg.objId ?? config.objIds);
      const predictor = await model.video(node);
      // every id is checked before any is removed, so a bad one leaves the session as it was
      const known = (await predictor.handleRequest({ type: "get_session", session_id })).object_ids;
      const unknown = ids.filter((id) => !known.includes(id));
      if (unknown.length) throw new Sam3Error("UNKNOWN_OBJECT", `the session has no object ${unknown.join(", ")} (objects: ${known.join(", ") || "none"})`);
      for (const obj_id of ids) await predictor.handleRequest({ type: "remove_object", session_id, obj_id });
      const { object_ids } = await predictor.handleRequest({ type: "get_session", session_id });
      msg.payload = { removed: ids, objects: object_ids };
      node.status({ fill: "green", shape: "dot", text: `removed ${ids.join(", ")}` });
      send(msg);
    };
  });

/** Object ids from a message or the node: a number, "2,3", or a list of them; whole numbers, at most a session's objects. */
function objectIds(value: unknown): number[] {
  const items = [value].flat();
  if (items.length > LIMITS.objectsPerSession) throw new Sam3Error("LIMIT_EXCEEDED", `more than ${LIMITS.objectsPerSession} object ids`);
  const texts = items.flatMap((v) => (typeof v === "number" || typeof v === "string" ? String(v).split(",") : [" "])).map((s) => s.trim());
  const ids = texts.filter(Boolean).map(Number);
  if (!ids.length || texts.length > LIMITS.objectsPerSession || ids.some((id) => !Number.isSafeInteger(id) || id < 0)) {
    throw new Sam3Error("BAD_REQUEST", "no object ids: set Object ids in the node (e.g. 2,3) or msg.objIds");
  }
  return [...new Set(ids)];
}
