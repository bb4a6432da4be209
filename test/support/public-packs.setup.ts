import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import type { PublicPacks, PublicPacksResult } from "./public-packs";

/**
 * Vitest global setup: the public-layout fixtures (models/export/sam3_export/public_layouts.py, every precision of
 * both layouts from sam3-tiny-1008), built once into a cache keyed by the exporter's sources and the pack's
 * manifest, and provided to the tests as `publicPacks` (test/support/public-packs.ts). A build goes to a temporary
 * folder renamed into place when complete, so a half-built cache never looks complete. A failed build is provided
 * as its reason: only the tests that read the fixtures fail.
 */
const REPO = join(__dirname, "..", "..");
const EXPORT = join(REPO, "models", "export");
const PACK = join(REPO, "models", "sam3-tiny-1008");
const LAYOUTS: Record<keyof PublicPacks, string> = { onnxCommunity: "onnx-community", usls: "usls" };
const CACHE = process.env.SAM3_PUBLIC_PACKS_CACHE ?? join(REPO, "node_modules", ".cache", "sam3-public-packs");
const STALE_MS = 7 * 24 * 3600_000; // a cache entry (or an abandoned build) unused this long is removed
const MINUTES = 60_000;

/** sha256 of what the fixtures are made from: the exporter's modules, its pinned tools, the pack's manifest. */
function sourceHash(): string {
  const code = join(EXPORT, "sam3_export");
  const files = [
    ...readdirSync(code).filter((f) => f.endsWith(".py")).sort().map((f) => join(code, f)),
    join(EXPORT, "requirements.txt"),
    join(PACK, "manifest.json"),
  ];
  const hash = createHash("sha256");
  for (const file of files) hash.update(file.slice(REPO.length)).update("\0").update(readFileSync(file)).update("\0");
  return hash.digest("hex").slice(0, 16);
}

/** Run a command; resolves when it exits 0, else rejects with its exit status and the end of its output. */
function run(what: string, command: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: EXPORT, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" }, timeout: timeoutMs });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-2000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (e) => reject(new Error(`${what} did not start (${e.message})`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}): ${output.trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}

function prune(keep: string): void {
  for (const name of readdirSync(CACHE)) {
    const path = join(CACHE, name);
    if (name !== keep && Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
  }
}

async function build(): Promise<PublicPacks> {
  const key = sourceHash();
  const final = join(CACHE, key);
  const folders = (root: string) =>
    Object.fromEntries(Object.entries(LAYOUTS).map(([k, layout]) => [k, join(root, layout)])) as unknown as PublicPacks;
  mkdirSync(CACHE, { recursive: true });
  prune(key);
  if (existsSync(final)) {
    const now = new Date();
    utimesSync(final, now, now); // in use: not stale
    return folders(final);
  }
  const started = Date.now();
  const tmp = mkdtempSync(join(CACHE, `.build-${key}-`));
  chmodSync(tmp, 0o755); // mkdtemp makes it private to its owner
  try {
    await run("models/export/setup.sh", "bash", [join(EXPORT, "setup.sh")], 20 * MINUTES);
    await Promise.all(
      Object.values(LAYOUTS).map((layout) =>
        run(`public_layouts --layout ${layout}`, "bash", [
          join(EXPORT, "python.sh"), "-m", "sam3_export.public_layouts", "--pack", PACK, "--layout", layout,
          "--out", join(tmp, layout), "--no-check",
        ], 10 * MINUTES),
      ),
    );
    try {
      renameSync(tmp, final);
    } catch (e) {
      if (!existsSync(final)) throw e; // else another run completed the same fixtures first: keep theirs
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`public-layout fixtures built in ${((Date.now() - started) / 1000).toFixed(1)}s -> ${final}`);
  return folders(final);
}

/** The part of vitest's TestProject a global setup uses (vitest/node is ESM-only: its types do not import here). */
interface Provider {
  provide(key: "publicPacks", value: PublicPacksResult): void;
}

export default async function publicPacksSetup(project: Provider): Promise<void> {
  let result: PublicPacksResult;
  try {
    result = await build();
  } catch (e) {
    result = { error: (e as Error).message };
  }
  project.provide("publicPacks", result);
}
