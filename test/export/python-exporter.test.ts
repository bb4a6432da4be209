import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../support/reference";

/**
 * The Python exporter's own tests (models/export/tests, pytest) as part of `npm test`: the rebuilt tiny packs
 * equal the shipped ones and every exported graph matches the HF implementation. The first run makes the
 * exporter's virtual environment (npm run export:setup, outside the repository), which takes a minute or two.
 */
const EXPORT = join(REPO, "models", "export");
const FILES = readdirSync(join(EXPORT, "tests")).filter((f) => /^test_\w+\.py$/.test(f)).sort();
const MINUTES = 60_000;

describe("the Python exporter (pytest)", () => {
  beforeAll(() => {
    execFileSync("bash", [join(EXPORT, "setup.sh")], { stdio: ["ignore", "ignore", "inherit"], timeout: 20 * MINUTES });
  }, 20 * MINUTES);

  it.each(FILES)("%s", (file) => {
    const run = spawnSync("bash", [join(EXPORT, "python.sh"), "-m", "pytest", join("tests", file)], {
      cwd: EXPORT,
      encoding: "utf8",
      timeout: 15 * MINUTES,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    const summary = run.stdout.trim().split("\n").pop() ?? "";
    expect(run.status, `${run.stdout.slice(-4000)}\n${run.stderr.slice(-2000)}`).toBe(0);
    expect(summary).toMatch(/^\d+ passed/);
    expect(summary).not.toMatch(/failed|error/);
  }, 15 * MINUTES);
});
