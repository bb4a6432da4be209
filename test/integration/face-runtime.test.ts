import { describe, expect, it } from "vitest";
import { ModelHost } from "../../core/face-runtime";
import { Sam3 } from "../../core/sam3";
import { SCENE } from "../support/reference";

describe("ModelHost: the model a face serves", () => {
  it("loads each engine on first use, shares it, and releases it on close", async () => {
    const before = Sam3.loadedModels();
    const host = new ModelHost();
    expect(Sam3.loadedModels()).toBe(before);
    const [a, b] = await Promise.all([host.sam(), host.sam()]);
    expect(a).toBe(b);
    const predictor = await host.predictor();
    expect(predictor.sam.pack.manifest.name).toBe(a.pack.manifest.name);
    expect(Sam3.loadedModels()).toBe(before + 1);
    await host.close();
    expect(Sam3.loadedModels()).toBe(before);
    // a later call loads again
    expect((await host.sam()).pack.manifest.name).toBe("sam3-tiny-336");
    await host.close();
  });

  it("keeps the pack's own thresholds: no default of its own", async () => {
    const host = new ModelHost();
    const sam = await host.sam();
    const own = sam.pack.manifest.thresholds.detection;
    const byHost = await sam.segment(SCENE, { text: "red circle" });
    const byPack = await sam.segment(SCENE, { text: "red circle" }, { threshold: own });
    expect(byHost.objects.map((o) => o.score)).toEqual(byPack.objects.map((o) => o.score));
    await host.close();
  });

  it("fails a load with the reason, then loads again once asked again; summaries need no load", async () => {
    let model = "no-such-pack";
    const host = new ModelHost(() => ({ model }));
    expect(host.summary()).toEqual({ name: "no-such-pack", error: expect.stringMatching(/^PACK_INVALID|^UNKNOWN/) });
    const failed = await host.sam().then(() => undefined, (e: Error & { code?: string }) => e);
    expect(failed?.message).toContain("no-such-pack");
    model = "sam3-tiny-336";
    expect((await host.sam()).pack.manifest.name).toBe("sam3-tiny-336");
    expect(host.summary()).toEqual({ name: "sam3-tiny-336", can: expect.stringContaining("text") });
    await host.close();
  });
});
