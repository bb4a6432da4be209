/**
 * The sam3 CLI as a subprocess against bad arguments, unwritable places and a full disk: every failure is one line
 * `sam3: error: <message>` on stderr, exit 1 (bad input, a Sam3Error) or 2 (usage), never a stack trace or exit 70,
 * and impossible output folders fail before any model runs.
 *
 * Corpus (corpus/cli.json): an array of { name, argv, exit, message }: argv with the tokens $SCENE (the example
 * image), $VIDEO (the example video), $TMP (a scratch folder), $FILE (a regular file), $DANGLING (a link to nothing);
 * exit the expected exit code; message a fragment the error line must contain.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, stderrLines, type Run } from "../support/cli";
import { REPO, SCENE } from "../support/reference";

interface Case {
  name: string;
  argv: string[];
  exit: number;
  message: string;
}

const CORPUS: Case[] = JSON.parse(readFileSync(join(REPO, "test", "security", "corpus", "cli.json"), "utf8"));
const VIDEO = join(REPO, "examples", "shapes.mp4");
const tmp = mkdtempSync(join(tmpdir(), "sam3-sec-cli-"));
const FILE = join(tmp, "a-file");
const FULL = join(tmp, "full");
const READ_ONLY = join(tmp, "read-only");
const mounted: string[] = [];

/**
 * A one-line failure: the exit code, nothing on stdout, one `sam3: error:` line (besides warnings and progress
 * lines), no stack, never exit 70.
 */
function expectOneLine(run: Run, exit: number, fragment: string) {
  expect(run.code, run.stderr).toBe(exit);
  expect(run.stdout).toBe("");
  const lines = stderrLines(run).filter((l) => !l.startsWith("sam3: warning:") && !/^(tracking|writing) \d+\/\d+/.test(l));
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^sam3: error: \S/);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(lines[0]).toContain(fragment);
}

/** Runs the CLI and measures how long it took. */
async function timedCli(...args: string[]) {
  const start = performance.now();
  const run = await cli(...args);
  return { run, seconds: (performance.now() - start) / 1000 };
}

/** Mounts a small tmpfs (with options), or says why it cannot: the tests that need it are then skipped. */
function mountTmpfs(dir: string, options: string): string | undefined {
  mkdirSync(dir);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "pipe" });
    mounted.push(dir);
    return undefined;
  } catch (e) {
    const reason = `mounting a tmpfs (${options}) failed: ${(e as Error).message.split("\n")[0]}`;
    console.warn(`${reason}; the test that needs it is skipped`);
    return reason;
  }
}

let fullSkipped: string | undefined;
let readOnlySkipped: string | undefined;

beforeAll(() => {
  writeFileSync(FILE, "a file, not a folder\n");
  symlinkSync(join(tmp, "nowhere"), join(tmp, "dangling"));
  fullSkipped = mountTmpfs(FULL, "size=64k");
  readOnlySkipped = mountTmpfs(READ_ONLY, "ro,size=64k");
});

afterAll(() => {
  for (const dir of mounted) execFileSync("umount", [dir]);
  rmSync(tmp, { recursive: true, force: true });
});

const expand = (arg: string) =>
  arg.replace("$SCENE", SCENE).replace("$VIDEO", VIDEO).replace("$TMP", tmp).replace("$FILE", FILE).replace("$DANGLING", join(tmp, "dangling"));

describe(`sam3 CLI bad-input corpus (${CORPUS.length} cases): one line, exit 1 or 2`, () => {
  it.each(CORPUS.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const { run, seconds } = await timedCli(...c.argv.map(expand));
    expectOneLine(run, c.exit, c.message);
    // refused before any model runs or any frame is decoded
    expect(seconds).toBeLessThan(30);
  });
});

describe("output folders that cannot be made fail fast", () => {
  it("--out /proc/x fails within seconds (no recursive mkdir spinning on /proc)", async () => {
    const { run, seconds } = await timedCli("track", VIDEO, "--text", "x", "--out", "/proc/x/y");
    expectOneLine(run, 1, "making the output folder failed");
    expect(seconds).toBeLessThan(10);
  });

  it("--threads 100000 is refused at once", async () => {
    const { run, seconds } = await timedCli("track", VIDEO, "--text", "x", "--threads", "100000");
    expectOneLine(run, 2, "--threads must be a whole number from 1 to 256");
    expect(seconds).toBeLessThan(10);
  });
});

describe("write failures are one WRITE_FAILED line", () => {
  it("a full disk (ENOSPC on a 64 KiB tmpfs): segment --out", async (context) => {
    if (fullSkipped) context.skip();
    const { run } = await timedCli("segment", SCENE, "--text", "x", "--threshold", "0", "--out", join(FULL, "out"));
    expectOneLine(run, 1, "the disk is full");
    expect(run.stderr).not.toContain(FULL);
  });

  it("a full disk: track --out", async (context) => {
    if (fullSkipped) context.skip();
    rmSync(join(FULL, "out"), { recursive: true, force: true });
    const { run } = await timedCli("track", VIDEO, "--point", "0,40,40", "--obj", "1", "--png", "--out", join(FULL, "video"));
    expectOneLine(run, 1, "the disk is full");
    expect(run.stderr).not.toContain(FULL);
  });

  it("a read-only place (EROFS, as EACCES is for root): segment --out", async (context) => {
    if (readOnlySkipped) context.skip();
    const { run } = await timedCli("segment", SCENE, "--text", "x", "--out", join(READ_ONLY, "out"));
    expectOneLine(run, 1, "read-only");
    expect(run.stderr).not.toContain(READ_ONLY);
  });

  it("a read-only output folder that exists: segment --out", async (context) => {
    if (readOnlySkipped) context.skip();
    const { run } = await timedCli("segment", SCENE, "--text", "x", "--out", READ_ONLY);
    expectOneLine(run, 1, "read-only");
  });
});
