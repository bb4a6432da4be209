import { realpathSync } from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
import { Sam3Error } from "./errors";

/** True when `path` is `root` or below it; both must already be resolved (realpath). */
export const isInside = (root: string, path: string): boolean => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The real path of an existing file, or undefined when it does not exist or cannot be resolved. */
function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The folders a face lets its users read. Every path is resolved through symbolic links before it is checked, so
 * no `..`, link or absolute path leads outside; errors name the path as the user gave it, never the real one.
 */
export class Confinement {
  readonly roots: string[];

  constructor(roots: string[]) {
    if (roots.length === 0) throw new Sam3Error("BAD_OPTION", "a confinement needs at least one folder");
    this.roots = roots.map((root) => {
      const real = realPath(resolve(root));
      if (!real) throw new Sam3Error("BAD_OPTION", `the allowed folder ${root} does not exist`);
      return real;
    });
  }

  /** The real path of an existing file or folder under a root; relative paths are taken from the first root. */
  resolve(path: string): string {
    const wanted = isAbsolute(path) ? resolve(path) : join(this.roots[0], path);
    const real = realPath(wanted);
    if (!real) {
      // outside the roots, a missing file is refused like an existing one: the answer tells nothing of what is there
      this.check(wanted, path);
      throw new Sam3Error("BAD_REQUEST", `${path} does not exist in the allowed folders`);
    }
    this.check(real, path);
    return real;
  }

  /** Refuses a real path outside every root; `shown` is how the error names it. */
  check(real: string, shown: string): void {
    if (!this.roots.some((root) => isInside(root, real))) {
      throw new Sam3Error("PATH_NOT_ALLOWED", `${shown} is outside the folders that may be read`);
    }
  }
}

/**
 * The real path of `relative` inside `folder` (a model pack's file, say); refused when it, or a link on the way,
 * leads outside the folder. `what` names the file in errors ("the tokenizer").
 */
export function resolveInside(folder: string, relative: string, what: string): string {
  const root = realPath(folder) ?? resolve(folder);
  if (isAbsolute(relative)) throw new Sam3Error("PATH_NOT_ALLOWED", `${what} must be a path inside the folder, not an absolute path`);
  const real = realPath(join(root, relative));
  if (real === undefined) {
    if (!isInside(root, resolve(root, relative))) throw new Sam3Error("PATH_NOT_ALLOWED", `${what} (${relative}) points outside the folder`);
    throw new Sam3Error("PACK_INVALID", `${what} (${relative}) is missing`);
  }
  if (!isInside(root, real)) throw new Sam3Error("PATH_NOT_ALLOWED", `${what} (${relative}) points outside the folder`);
  return real;
}
