import { realpathSync, statSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { Confinement, ensureFolder, isInside, jobFolderName, PACKAGE_ROOT, Sam3Error } from "../core";

const realPathOr = (path: string) => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

const OUTPUT_URI = "sam3://outputs/";

/**
 * The only places the server touches: media is read from the roots (every file resolved through links and
 * checked by the confinement), results are written to the output folder and named to clients by URI only.
 */
export class MediaPaths {
  readonly confine: Confinement;
  readonly outputDir: string;

  constructor(roots: string[], outputDir: string) {
    this.confine = new Confinement(roots);
    this.outputDir = resolve(outputDir);
  }

  /** The real path of an existing file or folder under a root (relative paths start in the first root). */
  readable(path: string): string {
    return this.confine.resolve(path);
  }

  /** A fresh folder for one job's results, inside the output folder, named by its label, time and a random tag. */
  async jobFolder(label: string): Promise<string> {
    return ensureFolder(join(this.outputDir, jobFolderName(label)));
  }

  /** A finished file of the output folder named by a resource URI's (encoded) path part; partial files are hidden. */
  output(encodedPath: string): string {
    let wanted: string;
    try {
      wanted = decodeURIComponent(encodedPath);
    } catch {
      throw new Sam3Error("BAD_REQUEST", `${encodedPath} is not a valid output file URI`);
    }
    const parts = wanted.split(/[/\\]/);
    const outside = () => new Sam3Error("PATH_NOT_ALLOWED", `${wanted} is outside the output folder`);
    if (isAbsolute(wanted) || parts.includes("..")) throw outside();
    const missing = () => new Sam3Error("BAD_REQUEST", `no output file ${wanted}`);
    if (parts.some((part) => part.startsWith("."))) throw missing();
    let folder: string;
    let real: string;
    try {
      folder = realpathSync(this.outputDir);
      real = realpathSync(join(folder, wanted));
    } catch {
      throw missing();
    }
    if (!isInside(folder, real)) throw outside();
    if (!statSync(real).isFile()) throw missing();
    return real;
  }

  /** The URI a client reads an output file back with. */
  outputUri(file: string): string {
    return OUTPUT_URI + relative(this.outputDir, file).split(sep).map(encodeURIComponent).join("/");
  }

  /** A message with the server's own folders taken out, so no absolute server path reaches a client. */
  scrub(message: string): string {
    const output = [this.outputDir, realPathOr(this.outputDir)];
    const places: [string, string][] = [
      ...output.flatMap((dir): [string, string][] => [[dir + sep, OUTPUT_URI], [dir, OUTPUT_URI]]),
      ...this.confine.roots.flatMap((root): [string, string][] => [[root + sep, ""], [root, "."]]),
      [PACKAGE_ROOT, "<sam3-flow>"],
      [realPathOr(tmpdir()), "<tmp>"],
      [tmpdir(), "<tmp>"],
      [homedir(), "~"],
    ];
    // the longest first, so a root inside the package folder is named as a root
    places.sort(([a], [b]) => b.length - a.length);
    return places.reduce((text, [from, to]) => (from.length > 1 ? text.split(from).join(to) : text), message);
  }
}
