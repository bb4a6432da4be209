import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttp, firstText, startHttpServer, stopServer, testServerOptions } from "../support/mcp";

const CLIENTS = 32;
const CALLS = 50;

describe("32 concurrent MCP HTTP clients x 50 calls at the default limits (sam3-mcp --http)", () => {
  let server: ChildProcess;
  let url: string;
  const { outputDir } = testServerOptions();

  beforeAll(async () => {
    ({ server, url } = await startHttpServer(outputDir!));
  });
  afterAll(async () => {
    await stopServer(server);
    rmSync(outputDir!, { recursive: true, force: true });
  });

  it("queues what the 2 job slots cannot take: 0 lost, 0 refused, queue places sent as progress", async () => {
    const png = (await sharp({ create: { width: 48, height: 48, channels: 3, background: "#30a050" } }).png().toBuffer()).toString("base64");
    const outcomes = { ok: 0, toolErrors: [] as string[], lost: [] as string[] };
    const queueMessages: string[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const { client, transport } = await connectHttp(url);
        try {
          for (let i = 0; i < CALLS; i++) {
            const onprogress = (p: { message?: string }) => void (p.message && queueMessages.push(p.message));
            try {
              const result = (await client.callTool({ name: "segment_image", arguments: { image_base64: png, points: [{ x: 10 + (i % 20), y: 20 }], overlay: false } }, undefined, { onprogress })) as { isError?: boolean; content: unknown[] };
              if (result.isError) outcomes.toolErrors.push(firstText(result));
              else outcomes.ok++;
            } catch (e) {
              outcomes.lost.push(`client ${c} call ${i}: ${(e as Error).message}`);
            }
          }
        } finally {
          await transport.terminateSession().catch(() => undefined);
          await client.close();
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(`${CLIENTS * CALLS} calls in ${seconds.toFixed(1)} s; ${queueMessages.length} queue notifications`);
    expect(outcomes.lost).toEqual([]);
    expect(outcomes.toolErrors).toEqual([]);
    expect(outcomes.ok).toBe(CLIENTS * CALLS);
    expect(queueMessages.length).toBeGreaterThan(0);
    expect(queueMessages[0]).toMatch(/^waiting for the model: number \d+ in the queue$/);
  }, 300_000);
});
