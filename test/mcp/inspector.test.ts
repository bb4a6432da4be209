import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MCP_MAIN, testServerOptions } from "../support/mcp";
import { REPO } from "../support/reference";

/** The MCP inspector's launcher, from the devDependency (its --cli mode is the scriptable client). */
function inspectorBin(): string {
  let manifest: string;
  try {
    manifest = createRequire(__filename).resolve("@modelcontextprotocol/inspector/package.json");
  } catch {
    throw new Error("the devDependency @modelcontextprotocol/inspector is not installed: run npm install");
  }
  return join(dirname(manifest), JSON.parse(readFileSync(manifest, "utf8")).bin["mcp-inspector"]);
}

/** Runs `mcp-inspector --cli node dist/mcp/main.js ... --method ...` from the repository root, as the README shows it. */
function inspect(outputDir: string, method: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [inspectorBin(), "--cli", process.execPath, MCP_MAIN, "--root", "examples", "--out", outputDir, "--method", ...method];
  return new Promise((resolve) => {
    const child = execFile(process.execPath, args, { cwd: REPO, timeout: 60_000, maxBuffer: 8 * 2 ** 20 }, (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
}

describe("the MCP inspector's CLI against sam3-mcp (stdio)", () => {
  const { outputDir } = testServerOptions();
  afterAll(() => rmSync(outputDir!, { recursive: true, force: true }));

  it("lists the tools", async () => {
    const { code, stdout, stderr } = await inspect(outputDir!, ["tools/list"]);
    expect(code, stderr).toBe(0);
    const names = (JSON.parse(stdout).tools as { name: string }[]).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["segment_image", "segment_video", "export_masks"]));
  });

  it("calls segment_image on the example scene", async () => {
    const args = ["image_path=scene.png", "text=circle", "threshold=0", "overlay=false"].flatMap((a) => ["--tool-arg", a]);
    const { code, stdout, stderr } = await inspect(outputDir!, ["tools/call", "--tool-name", "segment_image", ...args]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent.objects).toHaveLength(16);
    expect(result.content[0].text).toMatch(/^16 object\(s\) in the 640x480 image/);
  });
});
