import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { EXPORTER_DIR, exportArgs, exportPack, exportVenvDir } from "../../core/models/export";
import { rejection } from "../support/errors";

const tmp = mkdtempSync(join(tmpdir(), "sam3-export-args-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The Sam3Error code a call throws (or "none"). */
function codeOf(call: () => unknown): string {
  try {
    call();
    return "none";
  } catch (e) {
    expect(e).toBeInstanceOf(Sam3Error);
    return (e as Sam3Error).code;
  }
}

describe("exportArgs", () => {
  it("passes checked values as --flag=value, folders absolute", () => {
    const args = exportArgs({ from: "tiny-336", out: "rel/pack", seed: 7, dtype: "fp16", roles: ["textEncoder", " backbone "], check: false, hfWeights: true, threads: 4 });
    expect(args).toEqual(["--from=tiny-336", `--out=${resolve("rel/pack")}`, "--seed=7", "--dtype=fp16", "--roles=textEncoder,backbone", "--no-check", "--hf-weights", "--threads=4"]);
  });

  it("leaves out what was not given, so the exporter's defaults apply", () => {
    expect(exportArgs({ from: "facebook/sam3", out: "/tmp/p" })).toEqual(["--from=facebook/sam3", "--out=/tmp/p"]);
    expect(exportArgs({ from: "facebook/sam3", out: "/tmp/p", check: true, hfWeights: false })).toEqual(["--from=facebook/sam3", "--out=/tmp/p"]);
  });

  it("takes an existing folder as a checkpoint folder, by its absolute path", () => {
    mkdirSync(join(tmp, "ckpt with space"));
    expect(exportArgs({ from: join(tmp, "ckpt with space"), out: "/tmp/p" })[0]).toBe(`--from=${join(tmp, "ckpt with space")}`);
  });

  it("refuses values that are no preset, hub id or existing folder", () => {
    for (const from of ["tiny;rm -rf /", "$(id)", "a/b/c d", "--help", "`x`", "a\nb", ""]) expect(codeOf(() => exportArgs({ from, out: "/tmp/p" })), from).toBe("BAD_OPTION");
    for (const from of ["./missing-folder", "/no/such/checkpoint", "../nope"]) expect(codeOf(() => exportArgs({ from, out: "/tmp/p" })), from).toBe("BAD_REQUEST");
  });

  it("checks seed, dtype, roles and threads", () => {
    const base = { from: "tiny-336", out: "/tmp/p" };
    for (const bad of [
      { seed: -1 },
      { seed: 1.5 },
      { seed: 2 ** 32 },
      { dtype: "fp64" as never },
      { roles: [] },
      { roles: ["textEncoder", "nope"] },
      { roles: ["textEncoder;id"] },
      { threads: 0 },
      { threads: 257 },
      { threads: NaN },
    ]) {
      expect(codeOf(() => exportArgs({ ...base, ...bad })), JSON.stringify(bad)).toBe("BAD_OPTION");
    }
    expect(exportArgs({ ...base, seed: 0, threads: 256, roles: ["textEncoder", "textEncoder"] }).slice(2)).toEqual(["--seed=0", "--roles=textEncoder", "--threads=256"]);
  });

  it("refuses an --out that is a file", () => {
    writeFileSync(join(tmp, "a-file"), "");
    expect(codeOf(() => exportArgs({ from: "tiny-336", out: join(tmp, "a-file") }))).toBe("WRITE_FAILED");
  });
});

describe("exportVenvDir", () => {
  it("follows venv-path.sh: SAM3_EXPORT_VENV, else XDG_CACHE_HOME or ~/.cache", () => {
    expect(exportVenvDir({ SAM3_EXPORT_VENV: "/v", XDG_CACHE_HOME: "/x" })).toBe("/v");
    expect(exportVenvDir({ XDG_CACHE_HOME: "/x" })).toBe("/x/sam3-flow/export-venv");
    expect(exportVenvDir({})).toBe(join(homedir(), ".cache", "sam3-flow", "export-venv"));
  });
});

/**
 * The process handling of exportPack, with a stand-in for the venv's python (a shell script) that records what it
 * was given and fails in the ways the real exporter can; the real exporter runs in test/integration/cli-export.
 */
describe("exportPack's process handling", () => {
  const venv = join(tmp, "venv");
  const record = join(tmp, "record.txt");
  mkdirSync(join(venv, "bin"), { recursive: true });
  writeFileSync(
    join(venv, "bin", "python"),
    `#!/bin/sh
{ printf '%s\\n' "$@"; echo "cwd=$(pwd)"; echo "token=$HF_TOKEN"; } > "${record}"
echo "building"
echo "[1/1] textEncoder -> onnx/text_encoder.onnx"
case "$FAKE_EXPORT" in
  refuse) printf 'Traceback (most recent call last):\\n  File "/secret/x.py"\\nsam3-export: SOURCE_NOT_FOUND: no checkpoint there\\n' >&2; exit 2;;
  crash) printf 'Traceback (most recent call last):\\nRuntimeError: /secret/path\\n' >&2; exit 1;;
  hang) exec sleep 60;;
esac
`,
  );
  chmodSync(join(venv, "bin", "python"), 0o755);
  const run = (mode: string, options: Partial<Parameters<typeof exportPack>[0]> = {}) => {
    process.env.SAM3_EXPORT_VENV = venv;
    process.env.FAKE_EXPORT = mode;
    process.env.HF_TOKEN = "hf_secret";
    return exportPack({ from: "tiny-336", out: join(tmp, "out"), ...options });
  };

  it("runs -m sam3_export in the exporter's folder, streams progress, passes HF_TOKEN only in the environment", async () => {
    const lines: string[] = [];
    expect(await run("ok", { roles: ["textEncoder"], onProgress: (l) => lines.push(l) })).toBe(join(tmp, "out"));
    expect(lines).toEqual(["building", "[1/1] textEncoder -> onnx/text_encoder.onnx"]);
    expect(readFileSync(record, "utf8").split("\n")).toEqual(["-m", "sam3_export", "--from=tiny-336", `--out=${join(tmp, "out")}`, "--roles=textEncoder", `cwd=${EXPORTER_DIR}`, "token=hf_secret", ""]);
  });

  it("carries the exporter's one-line reason, never its traceback", async () => {
    const e = await rejection(run("refuse"));
    expect(e).toMatchObject({ code: "EXPORT_FAILED", message: "export failed: SOURCE_NOT_FOUND: no checkpoint there" });
    const crash = await rejection(run("crash"));
    expect(crash.code).toBe("EXPORT_FAILED");
    expect(crash.message).toMatch(/unexpectedly \(exit code 1\)/);
    expect(crash.message).not.toMatch(/secret|Traceback/);
  });

  it("kills the exporter when aborted", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const e = await rejection(run("hang", { signal: controller.signal, onProgress: (l) => l.startsWith("[1/1]") && controller.abort() }));
    expect(e).toMatchObject({ code: "EXPORT_FAILED", message: "the export was cancelled" });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("asks for the setup when the environment is missing", async () => {
    process.env.SAM3_EXPORT_VENV = join(tmp, "no-venv");
    const e = await rejection(exportPack({ from: "tiny-336", out: join(tmp, "out") }));
    expect(e.code).toBe("EXPORT_SETUP_NEEDED");
    expect(e.message).toContain("npx sam3 models export --setup");
  });
});
