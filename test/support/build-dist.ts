import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** Vitest global setup: compile dist/ once per run, so subprocess tests run the current sources. */
export default function buildDist() {
  const repo = join(__dirname, "..", "..");
  execFileSync("npm", ["run", "--silent", "build"], { cwd: repo, stdio: "inherit" });
}
