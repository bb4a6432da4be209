import { createReadStream, readdirSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { PACKAGE_ROOT } from "../core";
import { WebError } from "./http";

const STATIC = join(PACKAGE_ROOT, "web", "static");
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };
// the page's files, listed once (flat: the modules sit beside index.html): a URL only ever selects one of these
const PAGE_FILES = new Map(readdirSync(STATIC).filter((f) => TYPES[extname(f)]).map((f) => [`/${f}`, join(STATIC, f)]));
PAGE_FILES.set("/", join(STATIC, "index.html"));

/** One of the page's own files, or 404: nothing else on disk is reachable. */
export function serveStatic(req: IncomingMessage, path: string, res: ServerResponse): void {
  const file = PAGE_FILES.get(path);
  if (req.method !== "GET" && req.method !== "HEAD") throw new WebError(405, "BAD_REQUEST", `${req.method} is not served here`);
  if (!file) return void res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  res.writeHead(200, { "content-type": TYPES[extname(file)], "cache-control": "no-cache" });
  if (req.method === "HEAD") return void res.end();
  createReadStream(file).pipe(res);
}
