import { Sam3Error } from "../../core";

/** Longest file name stem taken from a message; the formats' suffixes still fit within the usual 255. */
const MAX_STEM = 100;

/**
 * A name from a message (msg.stem, msg.filename) as a plain file name: letters, digits and `._-` only, no `..`,
 * no leading dot, no separator, at most 100 characters; `fallback` when nothing usable is left.
 */
export function safeFileName(value: unknown, fallback: string): string {
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value !== "string" && typeof value !== "number") throw new Sam3Error("BAD_OPTION", "a file name must be a string");
  const cleaned = String(value)
    .slice(0, 4 * MAX_STEM)
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .replace(/\.{2,}/g, ".")
    .replace(/^\.+/, "")
    .slice(0, MAX_STEM);
  return /[A-Za-z0-9]/.test(cleaned) ? cleaned : fallback;
}
