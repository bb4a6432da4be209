import { join } from "node:path";
import { decodeImage, ensureFolder, PACKAGE_ROOT, readCommandLine, Sam3, Sam3VideoPredictor, type Sam3Options, writeSegmentationFiles } from "../core";
import { engineUrl } from "./args";

export const DEMO_USAGE = `sam3 demo [--out DIR] [--model DIR|PRESET] [--engine URL]

Segments the bundled example image by text and by clicks, tracks two clicked objects through the bundled example
video, and writes overlays and masks (default DIR: sam3-demo). --engine runs the graphs on a Triton server, as for
segment.`;

export const DEMO_IMAGE = join(PACKAGE_ROOT, "examples", "scene.png");
export const DEMO_VIDEO = join(PACKAGE_ROOT, "examples", "shapes.mp4");

export async function demoCommand(argv: string[]): Promise<void> {
  const { values } = readCommandLine({ args: argv, options: { out: { type: "string" }, model: { type: "string" }, engine: { type: "string" } } }, "sam3 demo --help");
  const model = { model: values.model, engine: engineUrl(values.engine) };
  const out = values.out ?? "sam3-demo";
  await ensureFolder(out);
  await demoImage(out, model);
  await demoVideo(out, model);
}

async function demoImage(out: string, model: Sam3Options) {
  const sam = await Sam3.open(model);
  try {
    const image = await decodeImage(DEMO_IMAGE);
    const text = "red circle";
    const byText = await sam.segment(image, { text }, { threshold: 0, maxObjects: 3 });
    const byClick = await sam.segment(image, { points: [{ x: 160, y: 170 }, { x: 460, y: 160, positive: false }] });
    const files = [
      ...(await writeSegmentationFiles(byText, image, { dir: out, stem: "scene-text" })),
      ...(await writeSegmentationFiles(byClick, image, { dir: out, stem: "scene-points" })),
    ];
    process.stdout.write(`model ${sam.pack.manifest.name}: ${sam.pack.manifest.description}\n`);
    process.stdout.write(`text "${text}": ${byText.objects.length} object(s); clicks: ${byClick.objects.length} object(s)\n`);
    for (const f of files) process.stdout.write(`  ${f}\n`);
  } finally {
    await sam.close();
  }
}

async function demoVideo(out: string, model: Sam3Options) {
  const predictor = await Sam3VideoPredictor.open(model);
  try {
    const { session_id, frames } = await predictor.handleRequest({ type: "start_session", resource_path: DEMO_VIDEO });
    await predictor.addPrompt(session_id, { frame: 0, objectId: 1, points: [{ x: 0.16, y: 0.33 }], coordinates: "relative" });
    await predictor.addPrompt(session_id, { frame: 0, objectId: 2, points: [{ x: 0.77, y: 0.23 }], coordinates: "relative" });
    for await (const _ of predictor.propagate(session_id, { direction: "forward" }));
    const files = await predictor.export(session_id, out, "shapes", { overlay: true, json: true });
    process.stdout.write(`video: 2 clicked objects tracked through ${frames} frames\n`);
    for (const f of files) process.stdout.write(`  ${f}\n`);
  } finally {
    await predictor.close();
  }
}
