import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../support/reference";

const FACES = ["cli", "mcp", "nodes", "web"];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

describe("layering", () => {
  it("the faces import core through its public entry only", () => {
    const internal = FACES.flatMap((face) => sources(join(REPO, face)))
      .flatMap((file) => [...readFileSync(file, "utf8").matchAll(/from "((?:\.\.\/)+core\/[^"]+)"/g)].map((m) => `${relative(REPO, file)}: ${m[1]}`));
    expect(internal).toEqual([]);
  });
});
