import { Sam3Error } from "../core";
import { safeFileName } from "./lib/safe-name";
import { messagePath, nodeInput, type PathSettings } from "./lib/message-paths";
import { modelNode, numberFrom, registerInputNode, type NodeAPI } from "./lib/node-kit";

interface LoadVideoConfig extends PathSettings {
  model: string;
  maxSide: string;
  stride: string;
}

/** Opens a video (file path, folder of frames, or the bytes of a file) as a session: the frames stay in the engine. */
export = (RED: NodeAPI) =>
  registerInputNode<LoadVideoConfig>(RED, "sam3-load-video", (node, config) => {
    return async (msg, send) => {
      const model = modelNode(RED, node, config.model);
      const { value: input, name, configured, shown } = nodeInput(RED, msg, config);
      const options = { max_side: numberFrom(msg.maxSide, config.maxSide, "maxSide"), stride: numberFrom(msg.stride, config.stride, "stride") };
      const bytes = Buffer.isBuffer(input) || input instanceof Uint8Array ? input : undefined;
      const path = typeof input === "string" && input ? input : undefined;
      if (!bytes && !path) throw new Sam3Error("BAD_VIDEO", `${name} must be a video's bytes (a Buffer), or a path to a video or a folder of frames`);
      const real = path && !configured ? await messagePath(path, name, config) : path;
      const predictor = await model.video(node);
      node.status({ fill: "blue", shape: "dot", text: "opening video" });
      const info = real
        ? await predictor.handleRequest({ type: "start_session", resource_path: real, ...options }, { label: shown ?? path })
        : await predictor.startSessionFromBytes(bytes!, safeFileName(msg.filename, "video.mp4"), options);
      if (info.decode_error) node.warn(`${info.decode_error}; using the ${info.frames} frames that decoded`);
      msg.session = { id: info.session_id, frames: info.frames, width: info.width, height: info.height, fps: info.fps };
      msg.payload = info;
      node.status({ fill: "green", shape: "dot", text: `${info.frames} frames ${info.width}x${info.height}` });
      send(msg);
    };
  });
