import { execFileSync, spawn, type ExecFileSyncOptionsWithStringEncoding } from "node:child_process";
import { accessSync, chmodSync, constants, readFileSync, statSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { Sam3Error } from "./errors";

/** The ffmpeg binary this process runs, and where it came from. */
export interface FfmpegBinary {
  path: string;
  version: string;
  origin: "env" | "system" | "bundled";
}

const EXE = process.platform === "win32" ? ".exe" : "";
// synchronous on purpose: these answers are needed at once, then cached
const SYNC_RUN: ExecFileSyncOptionsWithStringEncoding = { encoding: "utf8", timeout: 15_000, stdio: ["ignore", "pipe", "pipe"] };

/** Resolved once per value of $SAM3_FFMPEG, so pointing it elsewhere later takes effect. */
let resolvedFfmpeg: { env: string | undefined; binary: FfmpegBinary } | undefined;

/** `$SAM3_FFMPEG`, else `ffmpeg` on PATH, else the binary shipped in @ffmpeg-installer; the first that runs. */
export function findFfmpeg(): FfmpegBinary {
  const env = process.env.SAM3_FFMPEG;
  if (resolvedFfmpeg && resolvedFfmpeg.env === env) return resolvedFfmpeg.binary;
  const binary = env ? fromEnv(env, "SAM3_FFMPEG") : systemOrBundled();
  resolvedFfmpeg = { env, binary };
  return binary;
}

/** One line for session info, e.g. "bundled ffmpeg 4.1.0 (/…/ffmpeg)". */
export function describeFfmpeg(): string {
  const { path, version, origin } = findFfmpeg();
  const where = origin === "env" ? "$SAM3_FFMPEG" : origin;
  return `${where} ffmpeg ${version} (${path})`;
}

/** A command for the ffmpeg found above (found now, so a missing binary fails before anything is prepared). */
export function ffmpegCommand(): FfmpegCommand {
  return new FfmpegCommand(findFfmpeg().path);
}

/** One ffmpeg run's arguments: options for the input, the input (a file, or a stream on stdin), then the output's. */
export class FfmpegCommand {
  private source?: string | Readable;
  private target?: string | Writable;
  private readonly before: string[] = [];
  private readonly after: string[] = [];

  constructor(readonly binary: string) {}

  input(source: string | Readable): this {
    this.source = source;
    return this;
  }

  inputOptions(...options: string[]): this {
    this.before.push(...options);
    return this;
  }

  outputOptions(...options: string[]): this {
    this.after.push(...options);
    return this;
  }

  /** A file (overwritten) or a stream that receives stdout. */
  output(target: string | Writable): this {
    this.target = target;
    return this;
  }

  get inputStream(): Readable | undefined {
    return typeof this.source === "object" ? this.source : undefined;
  }

  get outputStream(): Writable | undefined {
    return typeof this.target === "object" ? this.target : undefined;
  }

  args(): string[] {
    if (this.source === undefined || this.target === undefined) throw new Sam3Error("INTERNAL", "an ffmpeg command needs an input and an output");
    const toFile = typeof this.target === "string";
    return [
      ...this.before,
      "-i",
      typeof this.source === "string" ? this.source : "pipe:0",
      ...(toFile ? ["-y"] : []),
      ...this.after,
      typeof this.target === "string" ? this.target : "pipe:1",
    ];
  }
}

/**
 * Demuxers of real single-file containers and raw streams. Playlists (hls), lists of files (concat), image
 * sequences (image2), filters (lavfi), devices and other readers that open further files or URLs are not among them.
 */
export const INPUT_FORMATS = ["mov", "matroska", "avi", "mpeg", "mpegts", "mpegvideo", "asf", "flv", "ogg", "gif", "h264", "hevc", "m4v", "mjpeg", "ivf", "yuv4mpegpipe"];
/** ffmpeg's max_pixels option stops at INT_MAX. */
const FFMPEG_MAX_PIXELS = 2 ** 31 - 1;

/**
 * Arguments that open one local file and nothing else: the file protocol on an absolute path (so no prefix in a
 * name is taken for a protocol), only the demuxers above, no other protocol for anything the file refers to, and
 * decoders that refuse frames above maxPixels before allocating them.
 */
export function inputArgs(file: string, maxPixels: number): { input: string; options: string[] } {
  return {
    input: `file:${resolve(file)}`,
    options: ["-protocol_whitelist", "file,pipe", "-format_whitelist", INPUT_FORMATS.join(","), "-max_pixels", String(Math.min(maxPixels, FFMPEG_MAX_PIXELS))],
  };
}

/**
 * One ffmpeg log line fit to quote in an error: no context tag, quoted strings, paths or URLs (they may name
 * server files or carry bytes of the input), no control characters, and short.
 */
export function sanitizeLogLine(line: string): string {
  const clean = line
    .replace(/^(\[[^\]]*@ 0x[0-9a-f]+\]\s*)+/i, "")
    .replace(/'[^']*'|"[^"]*"/g, "'…'")
    .replace(/\S*[/\\]\S*|\b[a-z][\w+.-]*:\S+/gi, "…")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")
    .trim();
  return clean.length > 160 ? `${clean.slice(0, 160)}…` : clean;
}

let syncOption: { path: string; args: string[] } | undefined;

/**
 * Output options that pass decoded frames through one for one: with the default (constant frame rate) sync,
 * raw outputs duplicate or drop frames to fill timestamp gaps.
 */
export function passthroughSyncArgs(): string[] {
  const { path } = findFfmpeg();
  if (syncOption?.path !== path) {
    // ffmpeg 5.1 renamed -vsync to -fps_mode and snapshot builds report no release number, so the help decides
    const help = runSync(path, ["-hide_banner", "-h", "long"], "cannot list ffmpeg's options");
    syncOption = { path, args: [help.includes("-fps_mode") ? "-fps_mode" : "-vsync", "passthrough"] };
  }
  return syncOption.args;
}

/** A running ffmpeg command. */
export interface FfmpegRun {
  /** Resolves once ffmpeg has been spawned; rejects with FFMPEG_FAILED when it could not be. */
  readonly started: Promise<void>;
  /** Resolves when ffmpeg exits with status 0; rejects with FFMPEG_FAILED carrying its last stderr line otherwise. */
  readonly finished: Promise<void>;
  /** SIGKILLs ffmpeg and resolves when it has exited (at once when it never started). */
  kill(): Promise<void>;
}

/** ffmpeg's stderr is read line by line; a longer line (a flood without newlines) is cut, so memory stays bounded. */
const MAX_LOG_LINE = 16_384;

/** Runs a prepared command; `what` starts the error message ("decoding frames 0..15 of a.mp4"). */
export function startFfmpeg(command: FfmpegCommand, what: string, onStderr?: (line: string) => void): FfmpegRun {
  const args = command.args();
  const { inputStream, outputStream } = command;
  const child = spawn(command.binary, args, { stdio: [inputStream ? "pipe" : "ignore", outputStream ? "pipe" : "ignore", "pipe"], windowsHide: true });
  let lastLine = "";
  const log = new LineSplitter((line) => {
    if (line.trim()) lastLine = sanitizeLogLine(line);
    onStderr?.(line);
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => log.push(text));
  const killNow = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  if (inputStream) {
    // a pipe that breaks because ffmpeg exited is reported by the exit, not as an error of its own
    child.stdin!.on("error", () => undefined);
    inputStream.on("error", killNow);
    inputStream.pipe(child.stdin!);
  }
  if (outputStream) {
    outputStream.on("error", killNow);
    child.stdout!.pipe(outputStream);
  }
  const started = new Promise<void>((resolve) => child.once("spawn", () => resolve()));
  // 'close' comes after the exit and after stderr has been read to its end, so the last line is known
  const finished = new Promise<void>((resolve, reject) => {
    // the first error settles it; listening on keeps a later one (a failed kill) from being an unhandled event
    child.on("error", (e: NodeJS.ErrnoException) => reject(new Sam3Error("FFMPEG_FAILED", `${what}: ffmpeg could not be started (${e.code ?? "unknown error"})`)));
    child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
      log.end();
      if (signal) reject(new Sam3Error("FFMPEG_FAILED", `${what}: ffmpeg was killed (${signal})`));
      else if (code) reject(new Sam3Error("FFMPEG_FAILED", `${what}: ffmpeg exited with code ${code}${lastLine ? `: ${lastLine}` : ""}`));
      else resolve();
    });
  });
  // a process that never started has nothing to wait for; one that did has exited once 'close' comes
  const exited = new Promise<void>((resolve) => {
    child.once("close", () => resolve());
    child.on("error", () => child.pid === undefined && resolve());
  });
  const spawned = Promise.race([started, finished]);
  spawned.catch(() => undefined);
  finished.catch(() => undefined);
  return {
    started: spawned,
    finished,
    kill() {
      killNow();
      return exited;
    },
  };
}

/** Cuts text into lines at \n, \r\n or \r (ffmpeg ends progress lines with \r), each cut to MAX_LOG_LINE. */
class LineSplitter {
  private current = "";

  constructor(private readonly onLine: (line: string) => void) {}

  push(text: string): void {
    const parts = text.split(/\r\n|\r|\n/);
    const last = parts.pop()!;
    for (const part of parts) {
      this.onLine(this.bounded(this.current + part));
      this.current = "";
    }
    this.current = this.bounded(this.current + last);
  }

  end(): void {
    if (this.current) this.onLine(this.current);
    this.current = "";
  }

  private bounded(line: string): string {
    return line.length > MAX_LOG_LINE ? line.slice(0, MAX_LOG_LINE) : line;
  }
}

function fromEnv(path: string, variable: string): FfmpegBinary {
  try {
    return { path, version: versionOf(path), origin: "env" };
  } catch (e) {
    throw new Sam3Error("FFMPEG_FAILED", `$${variable} is set to ${path}, which does not run (${firstLine(e)}): point it at a working binary or unset it`);
  }
}

function systemOrBundled(): FfmpegBinary {
  const problems: string[] = [];
  const system = onPath("ffmpeg");
  if (system) {
    try {
      return { path: system, version: versionOf(system), origin: "system" };
    } catch (e) {
      problems.push(`${system} does not run (${firstLine(e)})`);
    }
  }
  try {
    const path = bundledPath();
    return { path, version: bundledVersion(path), origin: "bundled" };
  } catch (e) {
    problems.push(`the bundled ffmpeg is unusable (${firstLine(e)})`);
  }
  throw new Sam3Error(
    "FFMPEG_FAILED",
    `no working ffmpeg: ${problems.join("; ") || "none on PATH"}. Install ffmpeg on the PATH, set $SAM3_FFMPEG to an ffmpeg binary, or reinstall this package (npm ci) to restore @ffmpeg-installer/ffmpeg`,
  );
}

function bundledPath(): string {
  // required lazily: the package throws (a string) at load time on platforms it ships no binary for
  const { path } = require("@ffmpeg-installer/ffmpeg") as { path: string };
  try {
    accessSync(path, constants.X_OK);
  } catch {
    // npm may unpack the binary without its execute bit when install scripts are disabled
    chmodSync(path, statSync(path).mode | 0o100);
  }
  return path;
}

/** Static snapshot builds report a git hash as their version; their package knows the release. */
function bundledVersion(path: string): string {
  const reported = versionOf(path);
  if (/^\d/.test(reported)) return reported;
  const { version } = JSON.parse(readFileSync(join(dirname(path), "package.json"), "utf8")) as { version?: string };
  return version ?? reported;
}

function versionOf(path: string): string {
  const out = execFileSync(path, ["-version"], SYNC_RUN);
  const version = /version (\S+)/.exec(out)?.[1];
  if (!version) throw new Sam3Error("FFMPEG_FAILED", `unexpected -version output: ${out.split("\n")[0]}`);
  return version;
}

function runSync(path: string, args: string[], what: string): string {
  try {
    return execFileSync(path, args, SYNC_RUN);
  } catch (e) {
    throw new Sam3Error("FFMPEG_FAILED", `${what} (${path}): ${firstLine(e)}`);
  }
}

function onPath(name: string): string | undefined {
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    if (!folder) continue;
    const candidate = join(folder, name + EXE);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // not here, or not executable: keep looking
    }
  }
  return undefined;
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0];
