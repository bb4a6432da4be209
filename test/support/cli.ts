import { execFile } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { REPO } from "./reference";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const MAIN = join(REPO, "dist", "cli", "main.js");

/** Runs the built `sam3` CLI in a subprocess from the repository root, as a user would. */
export const cli = (...args: string[]): Promise<Run> => cliWithEnv({}, ...args);

/** `cli` with these environment variables added to (or, when undefined, removed from) the test's own. */
export function cliWithEnv(env: Record<string, string | undefined>, ...args: string[]): Promise<Run> {
  return new Promise((done) => {
    const options = { cwd: REPO, env: { ...process.env, ...env }, maxBuffer: 256 << 20, timeout: 120_000 };
    execFile(process.execPath, [MAIN, ...args], options, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

export const stderrLines = (run: Run) => run.stderr.split("\n").filter((l) => l !== "");

/** The one error line of a refused run (stdout empty, the exit status `code`), for the test to read. */
export function oneError(run: Run, code: number): string {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stdout).toBe("");
  const lines = stderrLines(run);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^sam3: error: /);
  return lines[0];
}
