// Node-RED's package scorecard (`node-red-dev validate`) run here: the flow catalogue it queries is not reachable,
// so its requests for the catalogue go through a local forward proxy that answers from a snapshot of the API.

import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

/** The scorecard's version: its checks are read from this release's source. */
export const NODE_RED_DEV = "node-red-dev@0.1.6";
/** Installed outside the repository: the tool brings a few hundred packages of its own. */
const TOOL_DIR = join(homedir(), ".cache", "sam3-flow", "node-red-dev");
const TOOL_BIN = join(TOOL_DIR, "node_modules", "node-red-dev", "bin", "run");

/**
 * The catalogue's one document, `https://catalogue.nodered.org/catalogue.json`: name, updated_at and modules, each
 * with id, version, description, updated_at, types, keywords and url, as flows.nodered.org generates it. The
 * snapshot holds a few well-known modules with their node types, enough for the name (P08) and node type (N01)
 * checks to have something to compare with.
 */
const CATALOGUE_HOST = "catalogue.nodered.org";
const SNAPSHOT = join(__dirname, "catalogue-snapshot.json");

export interface Catalogue {
  /** `http://127.0.0.1:port`, to give the tool as its HTTPS proxy. */
  proxy: string;
  /** The absolute URLs asked of the proxy, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A forward proxy for the catalogue alone: the tool's HTTP client sends a proxied https URL as a plain request
 * with the absolute URL, which is answered from the snapshot; any other host, and tunnels (CONNECT), are refused.
 */
export async function startCatalogue(): Promise<Catalogue> {
  const body = readFileSync(SNAPSHOT);
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? "");
    const url = URL.canParse(req.url ?? "") ? new URL(req.url!) : undefined;
    if (req.method === "GET" && url?.hostname === CATALOGUE_HOST && url.pathname === "/catalogue.json") {
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length }).end(body);
    } else {
      res.writeHead(502, { "content-type": "text/plain" }).end("only the flow catalogue is served here\n");
    }
  });
  server.on("connect", (req: IncomingMessage, socket) => {
    requests.push(`CONNECT ${req.url}`);
    socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    proxy: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The registry the tool reads versions and dependency trees from (npm's configured one), which stays direct. */
const REGISTRY = (() => {
  try {
    return new URL(execFileSync("npm", ["config", "get", "registry"], { encoding: "utf8", timeout: 30_000 }).trim());
  } catch {
    return new URL("https://registry.npmjs.org/");
  }
})();

/** Whether the registry answers: without it the version and dependency checks (P06, P07, D02, D03) cannot run. */
export async function registryAnswers(): Promise<boolean> {
  try {
    return (await fetch(new URL("node-red", REGISTRY), { method: "HEAD", signal: AbortSignal.timeout(15_000) })).ok;
  } catch {
    return false;
  }
}

/** The tool's entry point, installed into the cache folder when missing; undefined (with the reason) when it cannot be. */
export function nodeRedDev(): { bin?: string; problem?: string } {
  if (existsSync(TOOL_BIN)) return { bin: TOOL_BIN };
  try {
    mkdirSync(TOOL_DIR, { recursive: true });
    execFileSync("npm", ["install", "--prefix", TOOL_DIR, "--no-audit", "--no-fund", "--no-save", NODE_RED_DEV], { stdio: "pipe", timeout: 300_000 });
    return { bin: TOOL_BIN };
  } catch (e) {
    return { problem: `${NODE_RED_DEV} could not be installed into ${TOOL_DIR}: ${(e as Error).message.split("\n")[0]}` };
  }
}

/** One check of the scorecard: `test` is its verdict, the rest what it found. */
export interface Check {
  test: boolean;
  [detail: string]: unknown;
}

export interface Scorecard {
  /** What the tool printed (passes on stdout, warnings on stderr), in one text. */
  output: string;
  /** The checks by id (P01, D03, ...), from the tool's --output file. */
  checks: Record<string, Check>;
}

/** Runs `node-red-dev validate` on the package folder, its catalogue requests served by `catalogue`. */
export function runScorecard(bin: string, packageDir: string, catalogue: Catalogue): Promise<Scorecard> {
  const scratch = mkdtempSync(join(tmpdir(), "sam3-scorecard-"));
  const outputFile = join(scratch, "scorecard.json");
  const env: NodeJS.ProcessEnv = { ...process.env, https_proxy: catalogue.proxy, HTTPS_PROXY: catalogue.proxy, no_proxy: REGISTRY.hostname, NO_PROXY: REGISTRY.hostname };
  for (const name of ["http_proxy", "HTTP_PROXY"]) delete env[name];
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [bin, "validate", "--path", packageDir, "--output", outputFile], { env, timeout: 600_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      try {
        if (!existsSync(outputFile)) throw new Error(`node-red-dev wrote no scorecard (${error?.message.split("\n")[0] ?? "no error"}):\n${stdout}${stderr}`);
        const { package: _package, ...checks } = JSON.parse(readFileSync(outputFile, "utf8")) as Record<string, Check>;
        resolve({ output: `${stdout}${stderr}`, checks });
      } catch (e) {
        reject(e);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
    // the tool opens a readline on stdin and would wait on a terminal: it gets none
    child.stdin?.end();
  });
}
