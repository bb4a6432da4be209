// Bundles the viewer (the extension's App class, the web UI's mask drawing, core's palette) into one HTML document.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "..", "..", "dist");
const out = join(dist, "mcp", "app", "viewer.html");
// the colours of the ids a viewer can give its own clicked objects, from core's public entry (the build ran tsc first)
const { colourHex } = createRequire(import.meta.url)(join(dist, "core"));
const colours = Array.from({ length: 1024 }, (_, id) => colourHex(id));
const bundle = await build({ entryPoints: [join(here, "viewer", "main.js")], bundle: true, format: "iife", target: "es2022", minify: true, write: false, legalComments: "none", define: { SAM3_COLOURS: JSON.stringify(colours) } });
const script = bundle.outputFiles[0].text.replace(/<\/script/gi, "<\\/script");
const page = readFileSync(join(here, "viewer", "viewer.html"), "utf8").replace("/*VIEWER_SCRIPT*/", () => script);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, page);
