import type { FrameJson } from "../../core";
import type { Sam3Message } from "./node-kit";

/** Puts one frame's objects on a message: payload = objects with RLE masks, frame = its index. */
export function setFrame(msg: Sam3Message, frame: FrameJson): Sam3Message {
  msg.payload = frame.objects;
  msg.frame = frame.frame_index;
  return msg;
}
