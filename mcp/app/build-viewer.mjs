// Bundles the viewer (the extension's App class, the web UI's mask drawing, core's palette) into one HTML document.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "dist", "mcp", "app", "viewer.html");
const bundle = await build({ entryPoints: [join(here, "viewer", "main.js")], bundle: true, format: "iife", target: "es2022", minify: true, write: false, legalComments: "none" });
const script = bundle.outputFiles[0].text.replace(/<\/script/gi, "<\\/script");
const page = readFileSync(join(here, "viewer", "viewer.html"), "utf8").replace("/*VIEWER_SCRIPT*/", () => script);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, page);
