import { statSync } from "node:fs";
import { join } from "node:path";
import { Confinement } from "./confine";
import { Sam3Error } from "./errors";
import { PACKAGE_ROOT } from "./paths";

/** The demo image and clip the package ships, beside its example flows (Node-RED's example list shows only the .json files). */
export const EXAMPLE_MEDIA_DIR = join(PACKAGE_ROOT, "examples");

/** How a setting names one of them, wherever the package is installed: `sam3-example:shapes.mp4`. */
export const EXAMPLE_PREFIX = "sam3-example:";

/**
 * The real path of a file `sam3-example:<name>` names, inside the examples folder (no `..` or link leads
 * out); undefined for any other text, which is an ordinary path.
 */
export function examplePath(text: string): string | undefined {
  if (!text.startsWith(EXAMPLE_PREFIX)) return undefined;
  const name = text.slice(EXAMPLE_PREFIX.length);
  try {
    const real = new Confinement([EXAMPLE_MEDIA_DIR]).resolve(name);
    if (statSync(real).isFile()) return real;
  } catch {
    // refused below, with the same words whatever the reason
  }
  throw new Sam3Error("PATH_NOT_ALLOWED", `${text.slice(0, 80)} is not one of the package's example files (${EXAMPLE_PREFIX}scene.png, ${EXAMPLE_PREFIX}shapes.mp4)`);
}
