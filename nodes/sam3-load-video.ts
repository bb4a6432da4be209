import { modelNode, numberFrom, registerInputNode, type NodeAPI, type NodeDef } from "./lib/node-kit";

interface LoadVideoConfig extends NodeDef {
  model: string;
  property: string;
  maxSide: string;
  stride: string;
}

/** Opens a video (file path, folder of frames, or the bytes of a file) as a session: the frames stay in the engine. */
export = (RED: NodeAPI) =>
  registerInputNode<LoadVideoConfig>(RED, "sam3-load-video", (node, config) => {
    const property = config.property || "payload";
    return async (msg, send) => {
      const model = modelNode(RED, node, config.model);
      const input = RED.util.getMessageProperty(msg, property) as unknown;
      const options = { max_side: numberFrom(msg.maxSide, config.maxSide, "maxSide"), stride: numberFrom(msg.stride, config.stride, "stride") };
      const predictor = await model.video(node);
      node.status({ fill: "blue", shape: "dot", text: "opening video" });
      let info;
      if (Buffer.isBuffer(input) || input instanceof Uint8Array) {
        info = await predictor.startSessionFromBytes(input, typeof msg.filename === "string" ? msg.filename : "video.mp4", options);
      } else if (typeof input === "string" && input) {
        info = await predictor.handleRequest({ type: "start_session", resource_path: input, ...options });
      } else {
        throw new Error(`msg.${property} must be a video file path, a folder of frames, or the video's bytes (a Buffer)`);
      }
      if (info.decode_error) node.warn(`${info.decode_error}; using the ${info.frames} frames that decoded`);
      msg.session = { id: info.session_id, frames: info.frames, width: info.width, height: info.height, fps: info.fps };
      msg.payload = info;
      node.status({ fill: "green", shape: "dot", text: `${info.frames} frames ${info.width}x${info.height}` });
      send(msg);
    };
  });
