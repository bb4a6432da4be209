import type { ImageInput } from "../../core/image/decode";

/** An image as messages carry it: a Buffer, a data URL, base64 text, or a file path. */
export function imageFromMessage(value: unknown, property: string): ImageInput {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
  if (typeof value !== "string" || !value) {
    throw new Error(`msg.${property} must hold an image: a Buffer, a data URL, base64 text or a file path`);
  }
  const dataUrl = /^data:[^;,]*;base64,/.exec(value);
  if (dataUrl) return Buffer.from(value.slice(dataUrl[0].length), "base64");
  // long text with only base64 characters is image data, anything else a path
  if (value.length > 256 && /^[A-Za-z0-9+/=\s]+$/.test(value)) return Buffer.from(value, "base64");
  return value;
}
