import { type FrameResult, frameToJson } from "../../core";
import type { Sam3Message } from "./node-kit";

/** Puts one frame's objects on a message: payload = objects with RLE masks, frame = its index. */
export function setFrame(msg: Sam3Message, result: FrameResult): Sam3Message {
  msg.payload = frameToJson(result).objects;
  msg.frame = result.frame_index;
  return msg;
}
