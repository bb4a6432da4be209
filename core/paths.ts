import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Sam3Error } from "./errors";

/** The package's root folder, found from this file whether it runs from sources or from dist/. */
export const PACKAGE_ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Sam3Error("INTERNAL", "the package is incomplete: no package.json above its code");
    dir = up;
  }
  return dir;
})();

export const BUNDLED_MODELS_DIR = join(PACKAGE_ROOT, "models");

/** Where fetched model packs live: $SAM3_MODELS_DIR, else the user's cache. */
export const installedModelsDir = () => process.env.SAM3_MODELS_DIR || join(homedir(), ".cache", "sam3-flow", "models");
