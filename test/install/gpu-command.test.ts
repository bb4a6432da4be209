import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, stderrLines } from "../support/cli";
import { REPO } from "../support/reference";

/** `sam3 gpu`: onnxruntime-node's CUDA 12 provider on request. Offline: the download is pointed at a feed that hangs up. */

let hangUp: Server;
let feed: string;

beforeAll(async () => {
  // a "feed" that accepts the connection and drops it at once
  hangUp = createServer((socket) => socket.destroy());
  await new Promise<void>((ready) => hangUp.listen(0, "127.0.0.1", ready));
  feed = `https://127.0.0.1:${(hangUp.address() as { port: number }).port}/v3/index.json`;
});

afterAll(() => new Promise<void>((closed) => hangUp.close(() => closed())));

describe.runIf(process.platform === "linux" && process.arch === "x64")("sam3 gpu on Linux x64", () => {
  it("explains itself: what it downloads, from where, where it goes and how to undo it", async () => {
    const help = await cli("gpu", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^sam3 gpu status \| install \[--feed URL\] \| remove/);
    expect(help.stdout).toContain("api.nuget.org");
    expect(help.stdout).toContain("several hundred MB");
    expect(help.stdout).toContain("remove    delete them again");
    expect((await cli("--help")).stdout).toContain("sam3 gpu status");
  });

  it("says what it is about to download before it starts, then names the failure without a local path", async () => {
    const run = await cli("gpu", "install", "--feed", feed);
    expect(run.code).toBe(1);
    const [what, where, undo, error] = stderrLines(run);
    expect(what).toBe(`downloading Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.1 (several hundred MB) from ${feed}`);
    expect(where).toMatch(/^keeping libonnxruntime_providers_cuda\.so, libonnxruntime_providers_shared\.so, libonnxruntime_providers_tensorrt\.so in \/.*onnxruntime-node\/bin\/napi-v6\/linux\/x64$/);
    expect(undo).toBe("undo with: npx sam3 gpu remove");
    expect(error).toMatch(/^sam3: error: downloading onnxruntime's CUDA 12 provider from 127\.0\.0\.1:\d+ failed: the connection was reset; nothing was installed$/);
    expect(error).not.toContain(REPO);
    expect(stderrLines(run)).toHaveLength(4);
    expect((await cli("gpu", "status")).stdout).toMatch(/^not installed: /);
  });

  it("refuses a feed that is not an https URL, and an unknown action, as usage errors", async () => {
    const plain = await cli("gpu", "install", "--feed", "http://mirror.example/v3/index.json");
    expect([plain.code, plain.stderr]).toEqual([2, "sam3: error: the feed must be the https URL of a NuGet v3 index (like https://api.nuget.org/v3/index.json)\n"]);
    const unknown = await cli("gpu", "instal");
    expect([unknown.code, unknown.stderr]).toEqual([2, 'sam3: error: unknown gpu action "instal" (status, install or remove)\n']);
    const none = await cli("gpu");
    expect([none.code, none.stderr]).toEqual([2, "sam3: error: give an action: sam3 gpu status | install | remove\n"]);
  });

  it("remove with nothing installed says so", async () => {
    const run = await cli("gpu", "remove");
    expect([run.code, run.stdout]).toEqual([0, "no CUDA provider libraries to remove\n"]);
  });
});
