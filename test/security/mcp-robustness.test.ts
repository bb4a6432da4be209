import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { McpContext } from "../../mcp/context";
import { JobLimiter } from "../../mcp/job-limiter";
import { MediaPaths } from "../../mcp/media-paths";
import { guardTool } from "../../mcp/tool-errors";
import { connectInMemory, firstText, testServerOptions } from "../support/mcp";

type Result = { isError?: boolean; structuredContent?: any; content: unknown[] };
const call = (client: Client, name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<Result>;

/** Mounts a small tmpfs (root only); undefined, with the reason logged, where mounting is impossible. */
function mountTmpfs(options: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "sam3-mcp-fs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "pipe" });
    return dir;
  } catch (e) {
    console.log(`skipped: cannot mount a tmpfs here (${(e as Error).message.split("\n")[0]})`);
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

function unmount(dir: string) {
  execFileSync("umount", [dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Fills a file system to the last byte. */
function fill(dir: string) {
  const fd = openSync(join(dir, "filler"), "w");
  const block = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, block);
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe("ENOSPC");
  } finally {
    closeSync(fd);
  }
}

/** A session on the test clip with one clicked object. */
async function promptedSession(client: Client): Promise<string> {
  const id = (await call(client, "start_session", { video_path: "shapes.mp4" })).structuredContent.session_id;
  await call(client, "add_prompt", { session_id: id, frame_index: 0, obj_id: 1, points: [{ x: 50, y: 80 }] });
  return id;
}

describe("MCP output failures: a full disk or an unwritable folder is a WRITE_FAILED tool error, and the server goes on", () => {
  it("a full disk during propagate_in_video: WRITE_FAILED, no partial file left, the next call works", async () => {
    const disk = mountTmpfs("size=256k");
    if (!disk) return;
    const ctx = new McpContext(testServerOptions({ outputDir: disk }));
    const client = await connectInMemory(ctx);
    try {
      const id = await promptedSession(client);
      fill(disk);
      const run = await call(client, "propagate_in_video", { session_id: id });
      expect(run.isError).toBe(true);
      expect(firstText(run)).toMatch(/^WRITE_FAILED: .*the disk is full/);
      expect(firstText(run)).not.toContain(disk);
      expect(readdirSync(disk)).toEqual(["filler"]);
      const exported = await call(client, "export_masks", { session_id: id, formats: ["json", "png"] });
      expect(exported.isError).toBe(true);
      expect(firstText(exported)).toMatch(/^WRITE_FAILED: /);
      rmSync(join(disk, "filler"));
      const again = await call(client, "propagate_in_video", { session_id: id, propagation_direction: "forward", max_frame_num_to_track: 3 });
      expect(again.isError, firstText(again)).toBeFalsy();
      expect(again.structuredContent.frames).toBe(4);
    } finally {
      await client.close();
      await ctx.close();
      unmount(disk);
    }
  });

  it("a read-only output folder and an output folder under a file: WRITE_FAILED", async () => {
    const readOnly = mountTmpfs("size=64k,ro");
    const parent = mkdtempSync(join(tmpdir(), "sam3-mcp-out-"));
    writeFileSync(join(parent, "a-file"), "x");
    const folders = [join(parent, "a-file", "out"), ...(readOnly ? [readOnly] : [])];
    try {
      for (const outputDir of folders) {
        const ctx = new McpContext(testServerOptions({ outputDir }));
        const client = await connectInMemory(ctx);
        try {
          const id = await promptedSession(client);
          const run = await call(client, "propagate_in_video", { session_id: id });
          expect(run.isError, outputDir).toBe(true);
          expect(firstText(run)).toMatch(/^WRITE_FAILED: /);
          expect(firstText(run)).not.toContain(parent);
          expect((await call(client, "list_sessions", {})).structuredContent.sessions).toHaveLength(1);
        } finally {
          await client.close();
          await ctx.close();
        }
      }
    } finally {
      if (readOnly) unmount(readOnly);
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe("MCP tool errors", () => {
  const options = testServerOptions();
  let ctx: McpContext;
  let client: Client;
  beforeAll(async () => {
    ctx = new McpContext(options);
    client = await connectInMemory(ctx);
  });
  afterAll(async () => {
    await client.close();
    await ctx.close();
    rmSync(options.outputDir!, { recursive: true, force: true });
  });

  it("export_masks on a session with no results says so instead of writing an empty file", async () => {
    const id = (await call(client, "start_session", { video_path: "shapes.mp4" })).structuredContent.session_id;
    const exported = await call(client, "export_masks", { session_id: id });
    expect(exported.isError).toBe(true);
    expect(firstText(exported)).toMatch(/^BAD_REQUEST: no results to export: add a prompt and propagate first/);
    expect(readdirSync(options.outputDir!)).toEqual([]);
    await call(client, "close_session", { session_id: id });
  });

  it("an unexpected exception is INTERNAL, without its message, stack or paths", async () => {
    const paths = new MediaPaths(options.roots!, options.outputDir!);
    const failing = guardTool(paths, "segment_image", async () => {
      throw new TypeError(`cannot read properties of undefined at ${options.roots![0]}/secret.ts:12`);
    });
    const result = await failing();
    expect(result).toEqual({ isError: true, content: [{ type: "text", text: "INTERNAL: segment_image failed unexpectedly" }] });
  });

  it("a server path inside an error is replaced by the path relative to its root", async () => {
    const paths = new MediaPaths(options.roots!, options.outputDir!);
    const failing = guardTool(paths, "t", async () => {
      throw new Sam3Error("BAD_IMAGE", `cannot decode ${join(options.roots![0], "media", "x.png")}; wrote ${join(options.outputDir!, "job", "a.json")}`);
    });
    expect(firstText(await failing())).toBe("BAD_IMAGE: cannot decode media/x.png; wrote sam3://outputs/job/a.json");
  });

  it("schema violations the SDK refuses carry the BAD_REQUEST code too", async () => {
    const result = await call(client, "segment_image", { image_path: 42 });
    expect(result.isError).toBe(true);
    expect(firstText(result)).toMatch(/^BAD_REQUEST: .*Input validation error/);
  });
});

describe("the job queue", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("runs waiting jobs in order, tells their places, and times a waiter out with TIMEOUT", async () => {
    const jobs = new JobLimiter({ running: 1, waiting: 8, waitMs: 150 });
    const order: number[] = [];
    const places: number[][] = [[], [], []];
    const runs = [0, 1, 2].map((i) => jobs.run(async () => void (order.push(i), await sleep(40)), { onQueued: (p) => places[i].push(p) }));
    await Promise.all(runs);
    expect(order).toEqual([0, 1, 2]);
    expect(places).toEqual([[], [1], [2, 1]]);
    const long = jobs.run(() => sleep(400));
    await expect(jobs.run(async () => "late")).rejects.toMatchObject({ code: "TIMEOUT" });
    await long;
    expect(await jobs.run(async () => "free again")).toBe("free again");
  });

  it("takes a cancelled waiter out of the queue, and refuses past the bound with LIMIT_EXCEEDED", async () => {
    const jobs = new JobLimiter({ running: 1, waiting: 1, waitMs: 10_000 });
    const long = jobs.run(() => sleep(200));
    const controller = new AbortController();
    const cancelled = jobs.run(async () => "ran", { signal: controller.signal });
    await expect(jobs.run(async () => "over")).rejects.toMatchObject({ code: "LIMIT_EXCEEDED" });
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const next = jobs.run(async () => "queued after the cancel");
    await long;
    expect(await next).toBe("queued after the cancel");
  });

  it("a call that waits past --queue-timeout gets a TIMEOUT tool error", async () => {
    const options = testServerOptions({ maxJobs: 1, queueTimeoutMs: 50 });
    const ctx = new McpContext(options);
    const client = await connectInMemory(ctx);
    try {
      // the first call loads the model, which takes far longer than 50 ms
      const [first, second] = await Promise.all([0, 1].map(() => call(client, "segment_image", { image_path: "scene.png", points: [{ x: 10, y: 10 }], overlay: false })));
      expect(first.isError, firstText(first)).toBeFalsy();
      expect(firstText(second)).toMatch(/^TIMEOUT: waited 0 s for the model/);
    } finally {
      await client.close();
      await ctx.close();
      rmSync(options.outputDir!, { recursive: true, force: true });
    }
  });
});
