import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/** A written path, or every file below it when it is a folder (a PNG sequence), in name order. */
export async function listFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).sort();
  return (await Promise.all(names.map((name) => listFiles(join(path, name))))).flat();
}
