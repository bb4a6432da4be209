import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "vitest";

/** The venv test/support/triton/setup.sh makes, and the file it leaves saying why it could not. */
const VENV = join(homedir(), ".cache", "sam3-flow", "triton-venv");
const UNAVAILABLE = `${VENV}.unavailable`;
const MODEL_PY = join(__dirname, "triton", "model.py");
const READY_TIMEOUT_MS = 60_000;
/** The server log kept in memory; older lines are dropped. */
const MAX_LOG_CHARS = 1 << 20;

/** Where setup.sh found tritonserver, its backends and the libraries it must load (triton.json in the venv). */
interface TritonPaths {
  tritonserver: string;
  backends: string;
  libraryPath: string[];
  bin: string;
}

export interface TritonSetup {
  /** The venv's python, when the Triton tests can run. */
  python?: string;
  /** Why they cannot, when they cannot. */
  reason?: string;
}

/** Whether this machine can run the Triton tests: the venv setup.sh made, or the reason to skip them. */
export function tritonSetup(): TritonSetup {
  if (existsSync(UNAVAILABLE)) return { reason: readFileSync(UNAVAILABLE, "utf8").trim() };
  if (!existsSync(join(VENV, "triton.json"))) return { reason: "PyTriton not set up: run bash test/support/triton/setup.sh" };
  return { python: join(VENV, "bin", "python") };
}

/** `describe` for tests that need a Triton server: skipped (and counted as skipped) with the reason logged once. */
export function describeWithTriton(name: string, tests: () => void): void {
  const { reason } = tritonSetup();
  if (reason) console.log(`${name}: Triton tests skipped: ${reason}`);
  describe.skipIf(reason !== undefined)(name, tests);
}

export interface TritonServer {
  /** The KServe v2 HTTP endpoint, http://127.0.0.1:PORT. */
  url: string;
  /** The KServe v2 gRPC endpoint, 127.0.0.1:PORT. */
  grpcAddress: string;
  pid: number;
  /** Everything the server has written so far, for a failed test's message. */
  log(): string;
  /** Kills the server and its python stubs at once (SIGKILL unless told); resolves when it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills the server and removes its files; safe to call again. */
  stop(): Promise<void>;
}

export interface TritonServerOptions {
  /** How long to wait for /v2/health/ready (60 s unless told). */
  readyTimeoutMs?: number;
  /** The HTTP port to listen on (a free one unless told): a client pointed at it before the server starts finds it there. */
  httpPort?: number;
}

/**
 * Serves a model repository (<model>/config.pbtxt, <model>/1/model.onnx and its weights) on 127.0.0.1 with the
 * tritonserver of the PyTriton wheel. That server has only the python backend, so a copy is served in which each
 * config's onnxruntime backend line names the python backend and each version folder gets model.py (onnxruntime
 * over the same model.onnx); the rest of every config is read by Triton's own parser.
 */
export async function startTritonServer(repository: string, options: TritonServerOptions = {}): Promise<TritonServer> {
  const { reason } = tritonSetup();
  if (reason) throw new Error(`no Triton server: ${reason}`);
  const paths = JSON.parse(readFileSync(join(VENV, "triton.json"), "utf8")) as TritonPaths;
  const scratch = mkdtempSync(join(tmpdir(), "sam3-triton-"));
  try {
    const models = join(scratch, "models");
    cpSync(repository, models, { recursive: true });
    servePythonBackend(models);
    // free ports can be taken by another test file between the check and the server's bind: then start again
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(paths, models, scratch, options.readyTimeoutMs ?? READY_TIMEOUT_MS, options.httpPort);
      } catch (error) {
        if (attempt === 3 || !/already in use/i.test(String((error as Error).message))) throw error;
      }
    }
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
}

/** The names of the models the server has loaded and marked ready. */
export async function tritonModelNames(url: string): Promise<string[]> {
  const response = await fetch(`${url}/v2/repository/index`, { method: "POST", body: "{}" });
  if (!response.ok) throw new Error(`repository index: HTTP ${response.status}`);
  const models = (await response.json()) as { name: string; state?: string }[];
  return models.filter((model) => model.state === "READY").map((model) => model.name).sort();
}

/** Points each model's config at the python backend and gives each version folder the model.py that runs its graph. */
function servePythonBackend(models: string) {
  for (const model of readdirSync(models)) {
    const config = join(models, model, "config.pbtxt");
    if (!existsSync(config)) continue;
    const text = readFileSync(config, "utf8");
    const swapped = text.replace(/^([ \t]*)backend:[ \t]*"onnxruntime"[ \t]*$/m, '$1backend: "python"');
    if (swapped === text) throw new Error(`model ${model}: config.pbtxt has no line backend: "onnxruntime"`);
    writeFileSync(config, swapped);
    for (const version of readdirSync(join(models, model))) {
      const folder = join(models, model, version);
      if (/^\d+$/.test(version) && statSync(folder).isDirectory()) cpSync(MODEL_PY, join(folder, "model.py"));
    }
  }
}

async function launch(paths: TritonPaths, models: string, scratch: string, readyTimeoutMs: number, fixedHttpPort?: number): Promise<TritonServer> {
  const [freeHttpPort, grpcPort] = await freePorts(2);
  const httpPort = fixedHttpPort ?? freeHttpPort;
  // named after the scratch folder, so the python backend's shared memory of a killed server can be found and removed
  const shmPrefix = `sam3_${scratch.slice(-6)}_`;
  const child = spawn(
    paths.tritonserver,
    [
      `--model-repository=${models}`,
      `--backend-directory=${paths.backends}`,
      `--backend-config=python,shm-region-prefix-name=${shmPrefix}`,
      "--http-address=127.0.0.1",
      `--http-port=${httpPort}`,
      "--grpc-address=127.0.0.1",
      `--grpc-port=${grpcPort}`,
      "--allow-metrics=false",
      "--exit-timeout-secs=2",
    ],
    {
      // its own process group: a kill reaches the python stubs it forks too
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        LD_LIBRARY_PATH: [...paths.libraryPath, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":"),
        // the stubs' numpy and onnxruntime come from the venv
        PATH: `${paths.bin}:${process.env.PATH}`,
      },
    },
  );
  let log = "";
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString("utf8")).slice(-MAX_LOG_CHARS);
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      append(Buffer.from(`${error.message}\n`));
      resolve();
    });
  });
  let running = true;
  void exited.then(() => (running = false));
  const pid = child.pid ?? -1;

  const killGroup = (signal: NodeJS.Signals) => {
    // -pid names the server's process group; a spawn that failed has no pid, and kill(0) would hit this one
    if (pid <= 0) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // the group has already gone
    }
  };
  // a test process that dies takes its server with it
  const onExit = () => {
    killGroup("SIGKILL");
    removeSharedMemory(shmPrefix);
    rmSync(scratch, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    killGroup(signal);
    await exited;
  };
  // leaves the scratch folder: a failed start is retried with the models in it
  const shutdown = async () => {
    await kill("SIGKILL");
    // the stubs may outlive the server's own exit by a moment
    killGroup("SIGKILL");
    process.off("exit", onExit);
    removeSharedMemory(shmPrefix);
  };
  let stopped: Promise<void> | undefined;
  const server: TritonServer = {
    url: `http://127.0.0.1:${httpPort}`,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    pid,
    log: () => log,
    kill,
    stop: () => (stopped ??= shutdown().then(() => rmSync(scratch, { recursive: true, force: true }))),
  };

  const deadline = Date.now() + readyTimeoutMs;
  while (!(await isReady(server.url))) {
    if (!running || Date.now() > deadline) {
      const why = running ? `not ready after ${readyTimeoutMs / 1000} s` : "exited before it was ready";
      await shutdown();
      throw new Error(`tritonserver ${why}; ${logSummary(log)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return server;
}

/** The python backend's shared memory regions of one server (left behind when it is killed). */
function removeSharedMemory(prefix: string) {
  if (!existsSync("/dev/shm")) return;
  for (const name of readdirSync("/dev/shm")) if (name.startsWith(prefix)) rmSync(join("/dev/shm", name), { force: true });
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v2/health/ready`, { signal: AbortSignal.timeout(2000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Ports nothing listens on now, each from the system's pick of a free one. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** The error lines of a server log (Triton's start with E and the date, its config parser's with libprotobuf) and its last lines. */
function logSummary(log: string): string {
  const lines = log.trimEnd().split("\n");
  // a machine without a GPU always logs the CUDA line; it explains nothing
  const errors = lines.filter((line) => /^(E\d{4} |\[libprotobuf ERROR)/.test(line) && !line.includes("CudaDriverHelper")).slice(-10);
  return `errors in its log:\n${errors.join("\n") || "(none)"}\nthe end of its log:\n${lines.slice(-15).join("\n")}`;
}
