import { basename, extname } from "node:path";
import { decodeImage, ensureFolder, type ImagePrompt, readCommandLine, Sam3, segmentationToJson, writeSegmentationFiles } from "../core";
import { ENGINE_FLAGS, engineOptions, parseBox, parseCount, parsePoint, parseUnit, UsageError } from "./args";

export const SEGMENT_USAGE = `sam3 segment <image> [options]

Segments one image. Text (optionally with exemplar boxes) finds every instance of a concept with the detector;
points and/or one box without text select one object with the tracker.

  --text T                 concept to find, e.g. "red car"
  --box x1,y1,x2,y2[:neg]  box in pixels (repeatable with --text: exemplars; :neg = not this)
  --point x,y[:neg]        click in pixels (repeatable; :neg = exclude)
  --model DIR|PRESET       model pack (default: bundled sam3-tiny-336, random weights)
  --device D               cpu | webgpu | cuda | tensorrt | coreml | dml (falls back to cpu, with a warning)
  --engine URL             where the graphs run: local (default), or a Triton server such as triton://host:8000
                           (http:// and https:// too; ?timeout=SECONDS&retries=N; see docs/scaling.md)
  --threads N              CPU threads per operator (default: all cores)
  --max-pixels N           refuse images above N pixels (default 100000000, a guard against decompression bombs)
  --threshold F            keep detections scoring above F (0..1, default 0.5; 0 keeps all)
  --fineness F             0 keeps fine detail (hair, leaves) .. 1 smooth edges for rigid objects (default 0)
  --min-region N           remove specks / fill holes up to N pixels (default 16; 0 = off)
  --nms F                  suppress detections whose masks overlap a better one above IoU F
  --multimask              tracker: the three candidates of SAM's multimask output (its default for one click
                           alone; otherwise the single-mask output)
  --json                   print the result as JSON on stdout
  --out DIR                write <name>.overlay.png, <name>.mask-<id>.png and <name>.json to DIR`;

export async function segmentCommand(argv: string[]): Promise<void> {
  const { values, positionals } = readCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      text: { type: "string" },
      box: { type: "string", multiple: true },
      point: { type: "string", multiple: true },
      ...ENGINE_FLAGS,
      threshold: { type: "string" },
      fineness: { type: "string" },
      "min-region": { type: "string" },
      nms: { type: "string" },
      multimask: { type: "boolean" },
      json: { type: "boolean" },
      out: { type: "string" },
    },
  }, "sam3 segment --help");
  if (positionals.length !== 1) throw new UsageError(`give exactly one image, got ${positionals.length} (see sam3 segment --help)`);
  const prompt: ImagePrompt = {
    text: values.text,
    boxes: values.box?.map(parseBox),
    points: values.point?.map(parsePoint),
  };
  const options = {
    threshold: parseUnit(values.threshold, "threshold"),
    fineness: parseUnit(values.fineness, "fineness"),
    minRegionArea: parseCount(values["min-region"], "min-region"),
    nms: parseUnit(values.nms, "nms"),
    multimask: values.multimask,
  };
  const engine = engineOptions(values);
  // an output folder that cannot be made fails now, not after the model has run
  if (values.out) await ensureFolder(values.out);
  // an image that cannot be read (a folder, a missing file) fails now, not after the model has loaded
  const image = await decodeImage(positionals[0], engine.maxPixels);
  const sam = await Sam3.open(engine);
  try {
    const result = await sam.segment(image, prompt, options);
    for (const w of result.warnings) process.stderr.write(`sam3: warning: ${w}\n`);
    if (values.out) {
      const stem = basename(positionals[0], extname(positionals[0]));
      const files = await writeSegmentationFiles(result, image, { dir: values.out, stem });
      process.stderr.write(`wrote ${files.length} files to ${values.out}\n`);
    }
    if (values.json) {
      process.stdout.write(JSON.stringify(segmentationToJson(result)) + "\n");
    } else {
      process.stdout.write(`${result.objects.length} object(s) in ${result.image.width}x${result.image.height} (${result.path}, ${result.model})\n`);
      for (const o of result.objects) {
        process.stdout.write(`  #${o.id}  score ${o.score.toFixed(3)}  box [${o.box.map((v) => Math.round(v)).join(", ")}]  area ${o.area}\n`);
      }
    }
  } finally {
    await sam.close();
  }
}
