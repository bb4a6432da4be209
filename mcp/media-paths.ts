import { realpathSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { Sam3Error } from "../core/errors";

/**
 * The only places the server touches: media is read from the roots, results are written to the output folder.
 * Every path is resolved through symbolic links before it is checked, so no `..`, link or absolute path escapes.
 */
export class MediaPaths {
  readonly roots: string[];
  readonly outputDir: string;

  constructor(roots: string[], outputDir: string) {
    this.roots = roots.map((r) => realpathSync(resolve(r)));
    this.outputDir = resolve(outputDir);
  }

  /** An existing file or folder under a root (relative paths are taken from the first root). */
  readable(path: string): string {
    const wanted = isAbsolute(path) ? path : join(this.roots[0], path);
    let real: string;
    try {
      real = realpathSync(wanted);
    } catch {
      throw new Sam3Error("BAD_REQUEST", `${path} does not exist (paths are relative to ${this.roots[0]})`);
    }
    if (!this.roots.some((root) => inside(root, real))) {
      throw new Sam3Error("BAD_REQUEST", `${path} is outside the folders this server may read (${this.roots.join(", ")})`);
    }
    return real;
  }

  /** A fresh folder for one job's results, inside the output folder. */
  async jobFolder(name: string): Promise<string> {
    const folder = join(this.outputDir, name.replace(/[^A-Za-z0-9._-]/g, "_"));
    await mkdir(folder, { recursive: true });
    return folder;
  }

  /** A file of the output folder named by a resource URI's path part. */
  output(relativePath: string): string {
    const real = (() => {
      try {
        return realpathSync(join(this.outputDir, relativePath));
      } catch {
        throw new Sam3Error("BAD_REQUEST", `no output file ${relativePath}`);
      }
    })();
    if (!inside(realpathSync(this.outputDir), real)) throw new Sam3Error("BAD_REQUEST", `${relativePath} is outside the output folder`);
    return real;
  }

  /** The URI a client reads an output file back with. */
  outputUri(file: string): string {
    return `sam3://outputs/${relative(this.outputDir, file).split(sep).map(encodeURIComponent).join("/")}`;
  }
}

const inside = (root: string, path: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
