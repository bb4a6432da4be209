import { statSync } from "node:fs";
import { relative } from "node:path";
import { resolveInside } from "../confine";
import { Sam3Error, isSam3Error } from "../errors";

export const packError = (ref: string, what: string) => new Sam3Error("PACK_INVALID", `model pack ${ref} ${what}`);

/**
 * A file the manifest names, as its real path relative to the pack folder: refused when it, or a link on the way,
 * leads outside the folder, and when it is missing or not a regular file (a pipe would block the read).
 */
export function packFile(dir: string, ref: string, file: string, what: string): string {
  let real: string;
  try {
    real = resolveInside(dir, file, `${what} ${file}`);
  } catch (e) {
    if (!isSam3Error(e)) throw e;
    if (e.code === "PACK_INVALID") throw new Sam3Error("PACK_INVALID", `model pack ${ref}: ${what} ${file} is missing`);
    throw new Sam3Error(e.code, `model pack ${ref}: ${what} ${file} points outside the pack folder; every file a pack names must be inside it`);
  }
  if (!statSync(real).isFile()) throw new Sam3Error("PACK_INVALID", `model pack ${ref}: ${what} ${file} is not a regular file`);
  return relative(dir, real);
}

const looksLikeName = (name: string) => /^[\w.:/-]{1,128}$/.test(name);

/** A name read from a pack file, when it looks like a name; anything else stays out of error messages. */
export const shownName = (name: string): string => (looksLikeName(name) ? `"${name}"` : "(a name that is not shown)");

/** Where in a pack's JSON file a value is wrong (a schema issue's path), its keys shown as shownName does. */
export const shownPath = (path: (string | number)[]): string =>
  path.map((key) => (looksLikeName(String(key)) ? String(key) : "(a name that is not shown)")).join(".");
