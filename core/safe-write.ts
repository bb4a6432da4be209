import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { asSam3Error, Sam3Error } from "./errors";

/**
 * Makes an output folder and its missing parents one level at a time (a recursive mkdir can spin for ever on
 * pseudo file systems such as /proc), refusing a file or an unwritable place with a WRITE_FAILED error.
 */
export async function ensureFolder(folder: string): Promise<string> {
  const target = resolve(folder);
  const missing: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    const found = await stat(dir).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(asSam3Error(e, "opening the output folder"))));
    if (found) {
      if (!found.isDirectory()) throw new Sam3Error("WRITE_FAILED", "the output folder cannot be made: a part of its path is a file");
      break;
    }
    if (dirname(dir) === dir) break;
    missing.unshift(dir);
  }
  for (const dir of missing) {
    await mkdir(dir).catch(async (e: NodeJS.ErrnoException) => {
      // made meanwhile by someone else is fine, but only if it is a folder (not a file or a dangling link)
      const made = e.code === "EEXIST" && (await stat(dir).catch(() => undefined));
      if (!made || !made.isDirectory()) throw asSam3Error(e, "making the output folder");
    });
  }
  return target;
}

/** A hidden name beside `file` for writing it before it is complete. */
export const partialName = (file: string) => join(dirname(file), `.${basename(file)}.partial-${randomBytes(4).toString("hex")}`);

/**
 * Writes a file under a temporary name and renames it into place when complete, so a failure or a kill never
 * leaves a plausible half-written file; on failure the temporary file is removed and a typed error thrown.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const partial = partialName(file);
  try {
    await writeFile(partial, data);
    await rename(partial, file);
  } catch (e) {
    await rm(partial, { force: true });
    throw asSam3Error(e, `writing ${basename(file)}`);
  }
}
