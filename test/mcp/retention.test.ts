import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { jobFolderName, parseRetention, pruneResults } from "../../core";
import { McpContext } from "../../mcp/context";
import { connectInMemory, runMcpToExit, testServerOptions } from "../support/mcp";

const HOUR = 3_600_000;
const MIB = 2 ** 20;

const scratch: string[] = [];
const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), "sam3-retention-"));
  scratch.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Sets a path's modification time `hoursAgo` hours back. */
const age = (path: string, hoursAgo: number) => utimesSync(path, new Date(Date.now() - hoursAgo * HOUR), new Date(Date.now() - hoursAgo * HOUR));

/** A job folder as the server names them, holding one file of `bytes`, last written `hoursAgo` hours ago. */
function job(out: string, label: string, hoursAgo: number, bytes = 1000): string {
  const name = jobFolderName(label, Date.now() - hoursAgo * HOUR);
  const dir = join(out, name);
  mkdirSync(join(dir, "seq"), { recursive: true });
  const file = join(dir, "seq", "000000.png");
  writeFileSync(file, Buffer.alloc(bytes));
  for (const path of [file, join(dir, "seq"), dir]) age(path, hoursAgo);
  return name;
}

describe("output retention (core)", () => {
  it("parses ages, sizes, both and off, and names what it takes when refusing", () => {
    expect(parseRetention("24h")).toEqual({ maxAgeMs: 24 * HOUR });
    expect(parseRetention("7d,500MiB")).toEqual({ maxAgeMs: 7 * 24 * HOUR, maxBytes: 500 * MIB });
    expect(parseRetention(" 2GiB , 1.5h ")).toEqual({ maxBytes: 2 * 1024 * MIB, maxAgeMs: 1.5 * HOUR });
    expect(parseRetention("OFF")).toBeUndefined();
    for (const bad of ["", "24", "24x", "0h", "-1h", "24h,48h", "1h,", "10MB"]) {
      expect(() => parseRetention(bad), bad).toThrow(/is not an age \(24h, 7d\), a size \(500MiB, 2GiB\), both \("24h,2GiB"\) or "off"/);
    }
  });

  it("removes job folders past the age, keeps fresh ones, and never touches anything it did not name", async () => {
    const out = folder();
    const outside = folder();
    writeFileSync(join(outside, "keep.txt"), "mine");
    const old = job(out, "old-session", 30);
    const fresh = job(out, "fresh-session", 2);
    // the user's own things in the output folder, however old, and a link leading out of it
    mkdirSync(join(out, "my-notes"));
    writeFileSync(join(out, "readme.txt"), "not a result");
    const link = jobFolderName("link", Date.now() - 48 * HOUR);
    symlinkSync(outside, join(out, link));
    for (const path of ["my-notes", "readme.txt"]) age(join(out, path), 100);
    const report = await pruneResults(out, { maxAgeMs: 24 * HOUR });
    expect(report.removed).toEqual([old]);
    expect(report.freedBytes).toBe(1000);
    expect(readdirSync(out).sort()).toEqual([fresh, link, "my-notes", "readme.txt"].sort());
    expect(readdirSync(outside)).toEqual(["keep.txt"]);
  });

  it("keeps folders being written (a partial file, or written in the last minute) whatever their age or size", async () => {
    const out = folder();
    const writing = job(out, "writing", 30);
    const partial = join(out, writing, "seq", ".frames.jsonl.partial-0123abcd");
    writeFileSync(partial, "");
    for (const path of [partial, join(out, writing, "seq"), join(out, writing)]) age(path, 30);
    const justMade = job(out, "just-made", 0);
    const report = await pruneResults(out, { maxAgeMs: HOUR, maxBytes: 1 });
    expect(report.removed).toEqual([]);
    expect(readdirSync(out).sort()).toEqual([justMade, writing].sort());
  });

  it("over the size limit removes the oldest first until the rest fit", async () => {
    const out = folder();
    const oldest = job(out, "a", 5, 400_000);
    const middle = job(out, "b", 4, 400_000);
    const newest = job(out, "c", 3, 400_000);
    const report = await pruneResults(out, { maxBytes: 900_000 });
    expect(report).toEqual({ removed: [oldest], freedBytes: 400_000, keptBytes: 800_000 });
    expect(readdirSync(out).sort()).toEqual([middle, newest].sort());
    expect((await pruneResults(out, { maxBytes: 100 })).removed).toEqual([middle, newest]);
  });
});

describe("output retention (sam3-mcp)", () => {
  it("removes old results at startup and when a tool writes, by default after 24 hours", async () => {
    const options = testServerOptions();
    const out = options.outputDir!;
    scratch.push(out);
    const day = job(out, "yesterday", 25);
    const hours = job(out, "this-morning", 5);
    const ctx = new McpContext(options);
    await expect.poll(() => existsSync(join(out, day))).toBe(false);
    expect(existsSync(join(out, hours))).toBe(true);
    const older = job(out, "older", 26);
    const client = await connectInMemory(ctx);
    try {
      const result = await client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", points: [{ x: 100, y: 100 }], overlay: false, exports: ["png"] } });
      expect(result.isError).toBeFalsy();
      await expect.poll(() => existsSync(join(out, older))).toBe(false);
      expect(existsSync(join(out, hours))).toBe(true);
    } finally {
      await client.close();
      await ctx.close();
    }
  });

  it("keeps everything with retention off, and refuses a setting it cannot read in one line", async () => {
    const options = testServerOptions({ retention: "off" });
    scratch.push(options.outputDir!);
    const old = job(options.outputDir!, "ancient", 1000);
    const ctx = new McpContext(options);
    const client = await connectInMemory(ctx);
    await client.callTool({ name: "segment_image", arguments: { image_path: "scene.png", points: [{ x: 100, y: 100 }], overlay: false, exports: ["png"] } });
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(join(options.outputDir!, old))).toBe(true);
    await client.close();
    await ctx.close();
    const { code, stderr } = await runMcpToExit(["--retention", "forever"]);
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toEqual(['sam3-mcp: error: retention "forever" is not an age (24h, 7d), a size (500MiB, 2GiB), both ("24h,2GiB") or "off"']);
  });
});
