import { readFileSync } from "node:fs";
import { join } from "node:path";

export const REPO = join(__dirname, "..", "..");
export const SCENE = join(REPO, "examples", "scene.png");
export const PACKS = ["sam3-tiny-336", "sam3-tiny-1008"] as const;

/** Reference outputs of the Hugging Face implementation, shipped beside the tests. */
export function reference(pack: string, file: "reference_detector.json" | "reference_tracker.json") {
  return JSON.parse(readFileSync(join(REPO, "test", "reference", pack, file), "utf8"));
}

/** Values of a flat array at the reference's sample indices. */
export const sampled = (data: ArrayLike<number>, indices: number[]) => indices.map((i) => data[i]);

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};
