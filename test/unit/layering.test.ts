import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../support/reference";

const FACES = ["cli", "mcp", "nodes", "web"];
const CORE = join(REPO, "core");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** A core file's part: its folder under core/ (e.g. "video"), or for a file at core's top its own name ("sam3"). */
const partOf = (file: string) => relative(CORE, file).replace(/\.ts$/, "").split("/")[0];

/** Which parts of core each part imports (relative imports only, imports inside a part left out). */
function coreGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sources(CORE)) {
    const from = partOf(file);
    const targets = graph.get(from) ?? new Set<string>();
    graph.set(from, targets);
    for (const [, path] of readFileSync(file, "utf8").matchAll(/from "(\.{1,2}\/[^"]+)"/g)) {
      const to = partOf(join(dirname(file), path));
      if (to !== from) targets.add(to);
    }
  }
  return graph;
}

/** A cycle in the graph, as the parts along it, or undefined. */
function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "open") return [...path.slice(path.indexOf(node)), node];
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("layering", () => {
  it("the faces import core through its public entry only", () => {
    const internal = FACES.flatMap((face) => sources(join(REPO, face)))
      .flatMap((file) => [...readFileSync(file, "utf8").matchAll(/from "((?:\.\.\/)+core\/[^"]+)"/g)].map((m) => `${relative(REPO, file)}: ${m[1]}`));
    expect(internal).toEqual([]);
  });

  it("core's folders and top-level modules import each other without cycles", () => {
    expect(findCycle(coreGraph())).toBeUndefined();
  });

  it("exports depend on masks, images and their own results interface, not on video sessions or the model", () => {
    expect([...coreGraph().get("export")!].sort()).toEqual(["errors", "ffmpeg", "image", "masks", "safe-write"]);
  });

  it("finds a cycle when there is one (the check itself works)", () => {
    const graph = new Map([["video", new Set(["export"])], ["export", new Set(["masks", "video"])], ["masks", new Set<string>()]]);
    expect(findCycle(graph)).toEqual(["video", "export", "video"]);
  });
});
