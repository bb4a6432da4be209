import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Sam3Error } from "./errors";

/** The compiled modules the grammar runs on, beside this one: what it imports, then itself. */
const MODULES = ["errors", "limits", "prompt-grammar"];

let script: string | undefined;

/**
 * The prompt grammar as one browser script that sets `window.SAM3_PROMPTS`: the compiled CommonJS modules wrapped
 * with a `require` that knows only them, so the Node-RED editor checks fields with the code the runtime runs.
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
  return `// SAM 3 prompt grammar for the Node-RED editor, built from the package's compiled core
(function () {
var modules = {
${table}
};
var loaded = {};
function load(name) {
  if (!modules[name]) { throw new Error("the prompt grammar needs " + name + ", which is not served"); }
  if (!loaded[name]) { loaded[name] = { exports: {} }; modules[name](loaded[name], loaded[name].exports, load); }
  return loaded[name].exports;
}
window.SAM3_PROMPTS = load("./prompt-grammar");
})();
`;
}
