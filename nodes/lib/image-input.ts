import { readFile, stat } from "node:fs/promises";
import { type ImageInput, Sam3Error } from "../../core";
import { messagePath, type NodeInput, type PathSettings } from "./message-paths";

/**
 * An image as messages carry it: a Buffer, a data URL or base64 text; a file path only when typed in the editor,
 * or inside the node's folder for paths from messages (then read here, so no error names the real path).
 */
export async function imageFromInput({ value, name, configured }: NodeInput, config: PathSettings): Promise<ImageInput> {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
  if (typeof value !== "string" || !value) {
    throw new Sam3Error("BAD_IMAGE", `${name} must hold an image: a Buffer, a data URL or base64 text`);
  }
  const dataUrl = /^data:[^;,]*;base64,/.exec(value);
  if (dataUrl) return Buffer.from(value.slice(dataUrl[0].length), "base64");
  // long text with only base64 characters is image data, anything else a path
  if (value.length > 256 && /^[A-Za-z0-9+/=\s]+$/.test(value)) return Buffer.from(value, "base64");
  if (configured) return value;
  const real = await messagePath(value, name, config);
  const unreadable = new Sam3Error("BAD_IMAGE", `${name} names a file that cannot be read as an image`);
  if ((await stat(real)).isDirectory()) throw unreadable;
  return readFile(real).catch(() => Promise.reject(unreadable));
}
