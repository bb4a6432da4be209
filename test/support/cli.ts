import { execFile } from "node:child_process";
import { join } from "node:path";
import { REPO } from "./reference";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const MAIN = join(REPO, "dist", "cli", "main.js");

/** Runs the built `sam3` CLI in a subprocess from the repository root, as a user would. */
export function cli(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { cwd: REPO, maxBuffer: 256 << 20, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

export const stderrLines = (run: Run) => run.stderr.split("\n").filter((l) => l !== "");
