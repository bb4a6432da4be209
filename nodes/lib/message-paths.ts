import { stat } from "node:fs/promises";
import { Confinement, examplePath, Sam3Error } from "../../core";
import type { NodeAPI, NodeDef, Sam3Message } from "./node-kit";

/** The settings of a node that reads a file named by a message: where such paths may lead. */
export interface PathSettings extends NodeDef {
  /**
   * The input: a message property, or (propertyType "str") a path typed in the editor by the flow's author, where
   * `sam3-example:shapes.mp4` names a file the package ships for its examples.
   */
  property: string;
  propertyType?: "msg" | "str";
  /** "off" (also when unset, as in nodes saved before this setting): a message never names a file. */
  paths?: "off" | "folder";
  /** With paths "folder": message paths must resolve (links followed) inside this folder; relative ones start there. */
  pathFolder?: string;
}

/** What a node reads: the value, how errors name it, and whether it came from the flow's author. */
export interface NodeInput {
  value: unknown;
  name: string;
  /** Typed in the editor: a path here is the author's and is read as it is. */
  configured: boolean;
  /** How a typed path is shown (a `sam3-example:` name as typed, not the package's folder). */
  shown?: string;
}

export function nodeInput(RED: NodeAPI, msg: Sam3Message, config: PathSettings): NodeInput {
  if (config.propertyType === "str") {
    const typed: unknown = config.property;
    const shown = typeof typed === "string" ? typed : undefined;
    return { value: shown === undefined ? typed : (examplePath(shown) ?? shown), name: "the node's path", configured: true, shown };
  }
  const property = config.property || "payload";
  return { value: RED.util.getMessageProperty(msg, property), name: `msg.${property}`, configured: false };
}

/**
 * The real path of a file (or folder) a message names, if the node lets messages name files; refused otherwise. The error is
 * the same whether the file is missing, outside the folder or a link leading out, so it tells nothing about the
 * server's files.
 */
export async function messagePath(path: string, name: string, config: PathSettings): Promise<string> {
  if (config.paths !== "folder" || !config.pathFolder) {
    throw new Sam3Error("PATH_NOT_ALLOWED", `${name} is text, not data: this node takes no file paths from messages (send the bytes, or set "File paths from messages" to a folder in its settings)`);
  }
  const refused = new Sam3Error("PATH_NOT_ALLOWED", `${name} does not name a file inside the folder this node reads from`);
  let confinement: Confinement;
  try {
    confinement = new Confinement([config.pathFolder]);
  } catch {
    throw new Sam3Error("BAD_OPTION", "the node's folder for file paths from messages does not exist");
  }
  let real: string;
  try {
    real = confinement.resolve(path);
    const stats = await stat(real);
    // a pipe or a device is no video or image, and reading a pipe would block; a frame folder's entries are held
    // inside that folder by the frame source itself
    if (!stats.isFile() && !stats.isDirectory()) throw refused;
  } catch {
    throw refused;
  }
  return real;
}
