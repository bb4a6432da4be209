import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { Sam3Error } from "../errors";
import { LIMITS } from "../limits";
import { PACKAGE_ROOT } from "../paths";

/** The project's Python exporter (models/export): a build-time tool, run here only on request. */
export const EXPORTER_DIR = join(PACKAGE_ROOT, "models", "export");

export const EXPORT_DTYPES = ["fp32", "fp16", "int8"] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

/** The manifest roles the exporter writes; --roles picks among them. */
export const EXPORT_ROLES = [
  "visionEncoder",
  "textEncoder",
  "detectorDecoder",
  "detectorDecoderBoxes",
  "trackerVisionEncoder",
  "trackerDecoder",
  "trackerDecoderMask",
  "backbone",
  "videoTrackerDecoder",
  "videoTrackerDecoderMask",
  "memoryEncoder",
  "memoryAttention",
  "trackerConstants",
] as const;

export interface ExportOptions {
  /** A preset of the exporter (tiny-336, tiny-1008, full-random), a hub id (facebook/sam3) or a checkpoint folder. */
  from: string;
  /** The pack folder to write. */
  out: string;
  /** Seed of the random weights of a preset. */
  seed?: number;
  dtype?: ExportDtype;
  /** Only these roles (default: every role). */
  roles?: string[];
  /** false skips the onnxruntime-vs-PyTorch check of each graph. */
  check?: boolean;
  /** Also save the HF checkpoint (hf/model.safetensors). */
  hfWeights?: boolean;
  /** torch CPU threads. */
  threads?: number;
  /** Each progress line of the exporter (one per graph). */
  onProgress?: (line: string) => void;
  /** Aborting kills the exporter. */
  signal?: AbortSignal;
}

/** The exporter's virtual environment: the rule of models/export/venv-path.sh. */
export function exportVenvDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SAM3_EXPORT_VENV || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "sam3-flow", "export-venv");
}

const venvPython = (venv: string) => (process.platform === "win32" ? join(venv, "Scripts", "python.exe") : join(venv, "bin", "python"));

const SETUP_HINT = "run `npx sam3 models export --setup` (or `npm run export:setup` in a checkout); it needs Python 3.10 or newer";

const PRESET_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
// Hugging Face repository ids: owner/name of letters, digits, '-', '_' and '.', at most 96 characters each
const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
// characters a path may hold that a shell would read as syntax; no shell runs here, but such a value is a mistake
const SHELL_SYNTAX = /[;&|$`<>*?(){}[\]!'"\\\s\x00-\x1f\x7f]/;

/**
 * The exporter's arguments after `-m sam3_export`, from checked options only: values go as `--flag=value` so none
 * can pass for a flag; folders become absolute (the exporter runs in its own folder). A folder given to --from wins
 * over a preset or hub id of the same spelling, as in transformers' from_pretrained.
 */
export function exportArgs(options: Omit<ExportOptions, "onProgress" | "signal">): string[] {
  const args = [`--from=${sourceSpec(options.from)}`, `--out=${outFolder(options.out)}`];
  if (options.seed !== undefined) args.push(`--seed=${whole(options.seed, "seed", 0, 2 ** 32 - 1)}`);
  if (options.dtype !== undefined) {
    if (!(EXPORT_DTYPES as readonly string[]).includes(options.dtype)) throw badOption(`--dtype must be one of ${EXPORT_DTYPES.join(", ")}, got "${printable(String(options.dtype))}"`);
    args.push(`--dtype=${options.dtype}`);
  }
  if (options.roles !== undefined) args.push(`--roles=${roleList(options.roles).join(",")}`);
  if (options.check === false) args.push("--no-check");
  if (options.hfWeights) args.push("--hf-weights");
  if (options.threads !== undefined) args.push(`--threads=${whole(options.threads, "threads", 1, LIMITS.threads)}`);
  return args;
}

function sourceSpec(from: string): string {
  if (typeof from !== "string" || !from) throw badOption("--from needs a preset (tiny-336, tiny-1008, full-random), a hub id such as facebook/sam3, or a checkpoint folder");
  const folder = resolve(from);
  if (!/[\x00-\x1f\x7f]/.test(from) && existsSync(folder) && statSync(folder).isDirectory()) return folder;
  if (PRESET_NAME.test(from) || HUB_ID.test(from)) return from;
  if (SHELL_SYNTAX.test(from) || from.startsWith("-")) throw badOption(`--from "${printable(from)}" is neither a preset, a hub id (owner/name) nor a folder`);
  throw new Sam3Error("BAD_REQUEST", "the checkpoint folder given to --from does not exist");
}

function outFolder(out: string): string {
  if (typeof out !== "string" || !out || /[\x00-\x1f\x7f]/.test(out)) throw badOption("--out needs the folder to write the pack to");
  const dir = resolve(out);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Sam3Error("WRITE_FAILED", "--out names a file, not a folder");
  return dir;
}

function roleList(roles: string[]): string[] {
  const list = roles.map((r) => String(r).trim()).filter((r) => r);
  const unknown = list.filter((r) => !(EXPORT_ROLES as readonly string[]).includes(r));
  if (!list.length || unknown.length) {
    throw badOption(`--roles takes role names from: ${EXPORT_ROLES.join(", ")}${unknown.length ? ` (unknown: ${unknown.map(printable).join(", ")})` : ""}`);
  }
  return [...new Set(list)];
}

function whole(value: number, name: string, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) throw badOption(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  return value;
}

const badOption = (message: string) => new Sam3Error("BAD_OPTION", message);
/** A user's value quoted back: control characters dropped, long ones cut. */
const printable = (text: string) => {
  const clean = text.replace(/[\x00-\x1f\x7f]/g, "");
  return clean.length > 80 ? clean.slice(0, 77) + "..." : clean;
};

/**
 * Exports a pack with the exporter's Python (the environment `--setup` makes) and resolves to the pack folder.
 * HF_TOKEN reaches the exporter through the environment, never its arguments. A failure is EXPORT_SETUP_NEEDED
 * (no environment) or EXPORT_FAILED carrying the exporter's one-line reason, never its traceback.
 */
export async function exportPack(options: ExportOptions): Promise<string> {
  const args = exportArgs(options);
  const python = venvPython(exportVenvDir());
  if (!existsSync(python)) throw new Sam3Error("EXPORT_SETUP_NEEDED", `the exporter's Python environment is not set up: ${SETUP_HINT}`);
  if (!existsSync(join(EXPORTER_DIR, "sam3_export"))) throw new Sam3Error("EXPORT_SETUP_NEEDED", "this installation lacks the exporter's sources (models/export): reinstall the package");
  const child = spawn(python, ["-m", "sam3_export", ...args], {
    cwd: EXPORTER_DIR,
    // an installed package's folder stays unwritten; progress arrives as it is printed
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const end = await supervise(child, options.onProgress, options.signal);
  if (end.error) throw new Sam3Error("EXPORT_SETUP_NEEDED", `the exporter's Python cannot be started: ${SETUP_HINT}`, { cause: end.error });
  if (end.code !== 0) throw new Sam3Error("EXPORT_FAILED", failureMessage(end));
  return resolve(options.out);
}

/** Runs models/export/setup.sh (makes or updates the exporter's environment), its output line by line to `onLine`. */
export async function setupExporter(options: { onLine?: (line: string) => void; signal?: AbortSignal } = {}): Promise<void> {
  const child = spawn("bash", [join(EXPORTER_DIR, "setup.sh")], { cwd: EXPORTER_DIR, env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  const end = await supervise(child, options.onLine, options.signal, true);
  if (end.error) throw new Sam3Error("EXPORT_SETUP_NEEDED", "the exporter's setup needs bash, and Python 3.10 or newer", { cause: end.error });
  if (end.code !== 0) {
    throw new Sam3Error("EXPORT_FAILED", end.aborted ? "the exporter's setup was cancelled" : `the exporter's setup failed (exit code ${end.code ?? end.signal}); its output says why; it needs Python 3.10 or newer (PYTHON=python3.11 picks one)`);
  }
}

interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
  aborted: boolean;
  /** The last lines of stderr (bounded). */
  stderr: string[];
}

const STDERR_LINES_KEPT = 50;
const KILL_GRACE_MS = 5000;

/** Streams a child's stdout lines (and its stderr lines too when `bothStreams`), keeps stderr's tail, kills it on abort. */
function supervise(child: ChildProcess, onLine: ((line: string) => void) | undefined, signal: AbortSignal | undefined, bothStreams = false): Promise<ChildEnd> {
  const stderr: string[] = [];
  let aborted = false;
  const abort = () => {
    aborted = true;
    child.kill("SIGTERM");
    // torch may sit in native code that ignores SIGTERM for a while
    setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"), KILL_GRACE_MS).unref();
  };
  if (signal?.aborted) abort();
  else signal?.addEventListener("abort", abort, { once: true });
  eachLine(child.stdout!, (line) => onLine?.(line));
  eachLine(child.stderr!, (line) => {
    if (bothStreams) onLine?.(line);
    stderr.push(line);
    if (stderr.length > STDERR_LINES_KEPT) stderr.shift();
  });
  return new Promise((done) => {
    child.once("error", (error) => {
      signal?.removeEventListener("abort", abort);
      done({ code: null, signal: null, error, aborted, stderr });
    });
    child.once("close", (code, sig) => {
      signal?.removeEventListener("abort", abort);
      done({ code, signal: sig, aborted, stderr });
    });
  });
}

const MAX_LINE = 4096;

/** Calls `onLine` with each complete line (control characters dropped, very long lines cut). */
function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void) {
  let rest = "";
  const emit = (line: string) => {
    const clean = line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "").trimEnd();
    if (clean) onLine(clean.slice(0, MAX_LINE));
  };
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (rest + chunk).split(/\r?\n|\r/);
    rest = lines.pop()!.slice(-MAX_LINE);
    lines.forEach(emit);
  });
  stream.on("end", () => emit(rest));
}

// the exporter's one line for a user error: `sam3-export: <code>: <message>`
const EXPORTER_ERROR = /^sam3-export: ([A-Za-z][\w-]{0,63}): (.+)$/;
// argparse's refusal of its arguments (exit 2): `<prog>: error: <message>`
const USAGE_ERROR = /^[\w .-]{1,40}: error: (.+)$/;

/** The user's one line for a failed export: the exporter's own reason when it gave one, never its traceback. */
function failureMessage(end: ChildEnd): string {
  if (end.aborted) return "the export was cancelled";
  const own = [...end.stderr].reverse().find((line) => EXPORTER_ERROR.test(line))?.match(EXPORTER_ERROR);
  if (own) return `export failed: ${own[1]}: ${cut(own[2])}`;
  const usage = end.code === 2 ? end.stderr.at(-1)?.match(USAGE_ERROR) : null;
  if (usage) return `export failed: the exporter refused its arguments: ${cut(usage[1])}`;
  if (end.code === null) return `the exporter was stopped by ${end.signal} (out of memory?)`;
  return `the exporter failed unexpectedly (exit code ${end.code}): run it from a checkout (bash models/export/python.sh -m sam3_export ...) to see why`;
}

const cut = (text: string) => (text.length > 500 ? text.slice(0, 497) + "..." : text);
