import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** Vitest global setup: compile dist/ once per run, so subprocess tests run the current sources. */
export default function buildDist() {
  const repo = join(__dirname, "..", "..");
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: repo, stdio: "inherit" });
}
