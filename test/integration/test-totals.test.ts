import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO } from "../support/reference";

/**
 * The totals line `npm test` ends with, from vitest run as a subprocess on a small project of its own: a file that
 * does not load and a hook that throws count as failures, so the line and the exit status always agree.
 */

const VITEST = join(REPO, "node_modules", "vitest", "vitest.mjs");
const REPORTER = join(REPO, "test", "support", "totals-reporter.mts");
const folders: string[] = [];

afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

/** A project with these test files (vitest's globals, so nothing needs resolving from the temporary folder). */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "sam3-totals-"));
  folders.push(dir);
  const config = { test: { include: ["*.test.ts"], globals: true, reporters: ["default", REPORTER] } };
  writeFileSync(join(dir, "vitest.config.mjs"), `export default ${JSON.stringify(config)};\n`);
  for (const [name, code] of Object.entries(files)) writeFileSync(join(dir, name), code);
  return dir;
}

/** Runs vitest on the project; resolves with its exit status and the last line it printed. */
function runVitest(dir: string): Promise<{ code: number; lastLine: string; output: string }> {
  // the outer run's own variables would make the inner vitest think it is one of its workers
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && k !== "TEST"));
  return new Promise((resolve) => {
    execFile(process.execPath, [VITEST, "run", "--root", dir], { cwd: dir, env: { ...env, NO_COLOR: "1" }, timeout: 60_000 }, (error, stdout, stderr) => {
      const lines = stdout.trimEnd().split("\n");
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, lastLine: lines[lines.length - 1], output: stdout + stderr });
    });
  });
}

const PASSES = `it("adds", () => expect(1 + 1).toBe(2));\n`;

describe("the totals line", () => {
  it("counts a file that fails to load and a hook that throws as failed, their guarded tests as skipped, and exits 1", async () => {
    const dir = project({
      "passes.test.ts": PASSES,
      "fails-to-load.test.ts": `throw new Error("this file fails to load");\nit("never collected", () => {});\n`,
      "setup-fails.test.ts": `beforeAll(() => { throw new Error("setup fails"); });\nit("a", () => {});\nit("b", () => {});\n`,
      "suite-setup-fails.test.ts": [
        `describe("guarded", () => { beforeAll(() => { throw new Error("suite setup fails"); }); it("c", () => {}); });`,
        `describe("plain", () => { it("fails", () => expect(1).toBe(2)); it("passes", () => {}); });`,
      ].join("\n"),
    });
    const run = await runVitest(dir);
    expect(run.code, run.output).toBe(1);
    // failed: the file that does not load, the file whose setup throws, and in the last file both the failing test and the suite whose setup throws
    expect(run.lastLine, run.output).toBe("2 passed, 4 failed, 3 skipped");
  });

  it("reads 0 failed and exits 0 when everything passes", async () => {
    const run = await runVitest(project({ "passes.test.ts": PASSES, "later.test.ts": `it.todo("later");\n` }));
    expect(run.code, run.output).toBe(0);
    expect(run.lastLine).toBe("1 passed, 0 failed, 1 skipped");
  });

  it("counts an error thrown outside any test (an unhandled error) as failed", async () => {
    const run = await runVitest(project({ "leaks.test.ts": `it("ends before its timer", () => { setTimeout(() => { throw new Error("late"); }, 1); return new Promise((r) => setTimeout(r, 50)); });\n` }));
    expect(run.code, run.output).toBe(1);
    expect(run.lastLine).toBe("1 passed, 1 failed");
  });
});
