import type { Node } from "node-red";
import { type Sam3, type Sam3VideoPredictor } from "../../core";

/** What the sam3-model config node offers the nodes that use it. */
export interface Sam3ModelNode extends Node {
  /** Default detection threshold and mask fineness of this model's nodes (undefined: the pack's own). */
  readonly defaults: { threshold?: number; fineness?: number };
  /** The image engine, loaded on first use; the node's status says so meanwhile. */
  image(user: Node): Promise<Sam3>;
  /** The video predictor (its sessions live as long as this config node), loaded on first use. */
  video(user: Node): Promise<Sam3VideoPredictor>;
}
