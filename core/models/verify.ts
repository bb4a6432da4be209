import { join } from "node:path";
import { PACKAGE_ROOT } from "../paths";
import { Sam3 } from "../sam3";

export interface VerifyReport {
  model: string;
  dir: string;
  device: string;
  /** Milliseconds of each check that ran: opening, a text prompt, a click. */
  checks: { name: string; ms: number; objects: number }[];
}

const SCENE = join(PACKAGE_ROOT, "examples", "media", "scene.png");

/** Opens a pack (checking every file and tensor) and runs one inference per head it has. */
export async function verifyPack(dir: string, device?: Sam3["device"]["requested"]): Promise<VerifyReport> {
  const started = performance.now();
  const sam = await Sam3.open({ model: dir, device });
  const checks: VerifyReport["checks"] = [{ name: "open", ms: performance.now() - started, objects: 0 }];
  try {
    const run = async (name: string, prompt: Parameters<Sam3["segment"]>[1]) => {
      const t = performance.now();
      const result = await sam.segment(SCENE, prompt, { threshold: 0, maxObjects: 3 });
      checks.push({ name, ms: performance.now() - t, objects: result.objects.length });
    };
    if (sam.pack.capabilities.text) await run("text prompt", { text: "circle" });
    if (sam.pack.capabilities.clicks) await run("click", { points: [{ x: 160, y: 170 }] });
    return { model: sam.pack.manifest.name, dir: sam.pack.dir, device: sam.device.active, checks };
  } finally {
    await sam.close();
  }
}
