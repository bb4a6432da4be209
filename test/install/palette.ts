import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { REPO, SCENE } from "../support/reference";

/**
 * A user's first install from the palette: the packed tarball uploaded through a real Node-RED's admin API
 * (POST /nodes, as the Palette Manager's upload does) into an empty user directory, with no environment variables
 * beyond PATH and a fresh HOME (no .npmrc); only npm's download cache is shared, so packages npm has are not
 * fetched again.
 */

const PACKAGE = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { name: string; "node-red": { nodes: Record<string, string> } };
/** The node types package.json declares, sorted. */
export const NODE_TYPES = Object.keys(PACKAGE["node-red"].nodes).sort();

/** Downloads that outlive a run (Node 22, Node-RED 5): where the project keeps its other caches. */
const CACHE_DIR = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "sam3-flow");

/** The CUDA provider files onnxruntime-node's install script would download on Linux x64. */
const CUDA_PROVIDER_FILES = ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so", "libonnxruntime_providers_tensorrt.so"];

/** The environment a user's shell would give: PATH with `node`'s folder first, a HOME without an .npmrc. */
function cleanEnv(nodeBin: string, home: string): NodeJS.ProcessEnv {
  return { PATH: [dirname(nodeBin), ...(process.env.PATH ?? "").split(delimiter)].join(delimiter), HOME: home };
}

/** A HOME of its own whose npm cache is the machine's (~/.npm), so packages npm already has are not fetched again. */
function freshHome(): string {
  const home = mkdtempSync(join(tmpdir(), "sam3-home-"));
  const cache = join(homedir(), ".npm");
  if (existsSync(cache)) symlinkSync(cache, join(home, ".npm"), "dir");
  return home;
}

/** `npm pack` of the working tree (dist is built by the test run's global setup, so no prepack). */
function packTarball(): string {
  const folder = mkdtempSync(join(tmpdir(), "sam3-pack-"));
  const name = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", folder], { cwd: REPO, encoding: "utf8" }).trim().split("\n").at(-1)!;
  return join(folder, name);
}

/**
 * `npm install <spec>` into a folder under CACHE_DIR, once: later runs find it there. The install runs on `nodeBin`
 * (Node-RED 5 wants Node 22's npm checks), with the machine's global npm settings (its registry certificates).
 */
export function cachedInstall(folder: string, spec: string, nodeBin = process.execPath): string {
  const dir = join(CACHE_DIR, folder);
  const done = join(dir, ".installed");
  if (existsSync(done) && readFileSync(done, "utf8") === spec) return dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true }));
  const home = freshHome();
  try {
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--omit=dev", spec], { cwd: dir, env: cleanEnv(nodeBin, home), stdio: "pipe", timeout: 600_000 });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  writeFileSync(done, spec);
  return dir;
}

/** Node 22 from the npm registry (the `node` package), cached; returns its binary. */
export function cachedNode22(): string {
  const dir = cachedInstall("node22", "node@22");
  const bin = join(dir, "node_modules", "node", "bin", "node");
  // npm run by this node reads its global settings from <prefix>/etc/npmrc: give it the machine's (registry CA)
  const machineConfig = execFileSync("npm", ["config", "get", "globalconfig"], { cwd: tmpdir(), encoding: "utf8" }).trim();
  const prefixConfig = join(resolve(dirname(bin), ".."), "etc", "npmrc");
  if (existsSync(machineConfig) && !existsSync(prefixConfig)) {
    mkdirSync(dirname(prefixConfig), { recursive: true });
    copyFileSync(machineConfig, prefixConfig);
  }
  return bin;
}

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

export interface PaletteRuntime {
  readonly base: string;
  readonly userDir: string;
  log(): string;
  /** Uploads the tarball as the Palette Manager does; resolves with the seconds the install took. */
  installTarball(tarball: string): Promise<number>;
  stop(): Promise<void>;
}

/** Starts `redJs` (Node-RED's red.js) on `nodeBin` with an empty user directory and the default palette settings. */
async function startPaletteNodeRed(nodeBin: string, redJs: string): Promise<PaletteRuntime> {
  const userDir = mkdtempSync(join(tmpdir(), "sam3-palette-"));
  const home = freshHome();
  const port = await freePort();
  writeFileSync(join(userDir, "settings.js"), `module.exports = { uiHost: "127.0.0.1", uiPort: ${port}, flowFile: "flows.json", credentialSecret: false, editorTheme: { tours: false } };\n`);
  const base = `http://127.0.0.1:${port}`;
  let log = "";
  const red: ChildProcess = spawn(nodeBin, [redJs, "--userDir", userDir, "--settings", join(userDir, "settings.js")], { env: cleanEnv(nodeBin, home), stdio: ["ignore", "pipe", "pipe"] });
  red.stdout!.on("data", (d) => (log += d));
  red.stderr!.on("data", (d) => (log += d));
  const until = Date.now() + 60_000;
  while (!(await fetch(`${base}/settings`).then((r) => r.ok, () => false))) {
    if (red.exitCode !== null || Date.now() > until) throw new Error(`Node-RED did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base,
    userDir,
    log: () => log,
    async installTarball(tarball) {
      const form = new FormData();
      form.append("tarball", new Blob([readFileSync(tarball)], { type: "application/gzip" }), basename(tarball));
      const started = performance.now();
      const response = await fetch(`${base}/nodes`, { method: "POST", body: form });
      if (response.status !== 200) throw new Error(`install failed (${response.status}): ${await response.text()}\n${log}`);
      return (performance.now() - started) / 1000;
    },
    async stop() {
      if (red.exitCode === null && red.signalCode === null) {
        const exited = new Promise((r) => red.once("exit", r));
        red.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      }
      for (const dir of [userDir, home]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The CUDA provider files present in an installed onnxruntime-node. */
function cudaProviderFiles(userDir: string): string[] {
  const bin = join(userDir, "node_modules", "onnxruntime-node", "bin", "napi-v6", `${process.platform}`, `${process.arch}`);
  return readdirSync(bin).filter((f) => CUDA_PROVIDER_FILES.includes(f));
}

/** A flow with the sam3-model config node on the bundled pack and a segment-image node behind POST /sam3-check. */
const CHECK_FLOW = [
  { id: "check-tab", type: "tab", label: "sam3 install check" },
  { id: "check-model", type: "sam3-model", name: "", model: "sam3-tiny-336", device: "cpu", threads: "", threshold: "", fineness: "" },
  { id: "check-in", type: "http in", z: "check-tab", url: "/sam3-check", method: "post", upload: false, swaggerDoc: "", wires: [["check-segment"]] },
  { id: "check-segment", type: "sam3-segment-image", z: "check-tab", model: "check-model", property: "", text: "red circle", points: "", boxes: "", threshold: "0", fineness: "", overlay: false, masks: false, wires: [["check-out"]] },
  { id: "check-out", type: "http response", z: "check-tab", statusCode: "", headers: {}, wires: [] },
];

/** What a user sees after the upload: the install time, the node types and errors, one segmentation, the CUDA files. */
export interface PaletteCheck {
  installSeconds: number;
  types: string[];
  errors: string[];
  objects: number;
  cudaFiles: string[];
}

/** Uploads the tarball, then deploys CHECK_FLOW through the admin API and posts the bundled scene to it. */
export async function installAndSegment(runtime: PaletteRuntime, tarball: string): Promise<PaletteCheck> {
  const installSeconds = await runtime.installTarball(tarball);
  const sets: { module: string; types: string[]; err?: string }[] = await (await fetch(`${runtime.base}/nodes`, { headers: { accept: "application/json" } })).json();
  const ours = sets.filter((s) => s.module === PACKAGE.name);
  const deploy = await fetch(`${runtime.base}/flows`, { method: "POST", headers: { "content-type": "application/json", "node-red-deployment-type": "full" }, body: JSON.stringify(CHECK_FLOW) });
  if (deploy.status >= 300) throw new Error(`deploy failed (${deploy.status}): ${await deploy.text()}`);
  // the deploy answers before the flow has started: retry while the endpoint is not there yet
  let response: Response | undefined;
  for (const until = Date.now() + 15_000; Date.now() < until; await new Promise((r) => setTimeout(r, 250))) {
    response = await fetch(`${runtime.base}/sam3-check`, { method: "POST", headers: { "content-type": "image/png" }, body: readFileSync(SCENE) });
    if (response.status !== 404) break;
  }
  if (response?.status !== 200) throw new Error(`the flow answered ${response?.status}: ${await response?.text()}\n${runtime.log()}`);
  const objects: unknown[] = await response.json();
  return {
    installSeconds,
    types: ours.flatMap((s) => s.types).sort(),
    errors: ours.map((s) => s.err).filter((e): e is string => Boolean(e)),
    objects: objects.length,
    cudaFiles: cudaProviderFiles(runtime.userDir),
  };
}

/**
 * The suite's setup and teardown: packs the tarball and starts Node-RED on the node and red.js `where` gives (it may
 * fetch them first, within `setupMs`); `runtime()` is the started one.
 */
export function paletteSuite(where: () => { nodeBin: string; redJs: string }, setupMs: number): { runtime(): PaletteRuntime; tarball(): string } {
  let runtime: PaletteRuntime | undefined;
  let tarball: string | undefined;
  beforeAll(async () => {
    const { nodeBin, redJs } = where();
    tarball = packTarball();
    runtime = await startPaletteNodeRed(nodeBin, redJs);
  }, setupMs);
  afterAll(async () => {
    await runtime?.stop();
    if (tarball) rmSync(dirname(tarball), { recursive: true, force: true });
  });
  return { runtime: () => runtime!, tarball: () => tarball! };
}
