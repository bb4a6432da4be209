import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeSegmentationFiles } from "../core/export/files";
import { decodeImage } from "../core/image/decode";
import { PACKAGE_ROOT } from "../core/paths";
import { Sam3 } from "../core/sam3";

export const DEMO_USAGE = `sam3 demo [--out DIR] [--model DIR|PRESET]

Segments the bundled example image by text and by clicks, and writes overlays and masks (default DIR: sam3-demo).`;

export const DEMO_IMAGE = join(PACKAGE_ROOT, "examples", "media", "scene.png");

export async function demoCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string" }, model: { type: "string" } } });
  const out = values.out ?? "sam3-demo";
  const sam = await Sam3.open({ model: values.model });
  try {
    const image = await decodeImage(DEMO_IMAGE);
    const text = "red circle";
    const byText = await sam.segment(image, { text }, { threshold: 0, maxObjects: 3 });
    const byClick = await sam.segment(image, { points: [{ x: 160, y: 170 }, { x: 460, y: 160, positive: false }] });
    const files = [
      ...(await writeSegmentationFiles(byText, image, out, "scene-text", text)),
      ...(await writeSegmentationFiles(byClick, image, out, "scene-points")),
    ];
    process.stdout.write(`model ${sam.pack.manifest.name}: ${sam.pack.manifest.description}\n`);
    process.stdout.write(`text "${text}": ${byText.objects.length} object(s); clicks: ${byClick.objects.length} object(s)\n`);
    for (const f of files) process.stdout.write(`  ${f}\n`);
  } finally {
    await sam.close();
  }
}
