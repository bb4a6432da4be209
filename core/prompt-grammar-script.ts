import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Sam3Error } from "./errors";

/** The compiled modules the editor's rules run on, beside this one: what they import, then the prompt grammar and the engine URL rule. */
const MODULES = ["errors", "limits", "prompt-grammar", "triton/engine-url"];

let script: string | undefined;

/**
 * The prompt grammar and the engine URL rule as one browser script that sets `window.SAM3_PROMPTS` and
 * `window.SAM3_ENGINE_URL`: the compiled CommonJS modules wrapped with a `require` that knows only them, so the
 * Node-RED editor checks fields with the code the runtime runs.
 */
export function promptGrammarScript(): string {
  script ??= wrap(
    MODULES.map((name) => {
      const file = join(__dirname, `${name}.js`);
      if (!existsSync(file)) throw new Sam3Error("INTERNAL", "the compiled prompt grammar is missing: build the package (npm run build)");
      // the source-map comment would send the browser looking for a map nobody serves
      return [`./${name}`, readFileSync(file, "utf8").replace(/^\/\/# sourceMappingURL=.*$/m, "")];
    }),
  );
  return script;
}

function wrap(modules: string[][]): string {
  const table = modules.map(([name, source]) => `${JSON.stringify(name)}: function (module, exports, require) {\n${source}\n}`).join(",\n");
  return `// SAM 3 prompt grammar and engine URL rule for the Node-RED editor, built from the package's compiled core
(function () {
var modules = {
${table}
};
var loaded = {};
// "../errors" required by "./triton/engine-url" is "./errors"
function resolve(from, request) {
  var parts = from.split("/").slice(0, -1);
  request.split("/").forEach(function (part) {
    if (part === "..") { parts.pop(); } else if (part !== ".") { parts.push(part); }
  });
  return parts.join("/");
}
function load(name) {
  if (!modules[name]) { throw new Error("the editor's rules need " + name + ", which is not served"); }
  if (!loaded[name]) {
    loaded[name] = { exports: {} };
    modules[name](loaded[name], loaded[name].exports, function (request) { return load(resolve(name, request)); });
  }
  return loaded[name].exports;
}
window.SAM3_PROMPTS = load("./prompt-grammar");
window.SAM3_ENGINE_URL = load("./triton/engine-url");
})();
`;
}
