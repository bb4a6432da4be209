import { basename, extname } from "node:path";
import { type BoxPrompt, DIRECTIONS, ensureFolder, parseFramedBox, parseFramedPoint, type PointPrompt, type PropagationDirection, readCommandLine, Sam3VideoPredictor } from "../core";
import { ENGINE_FLAGS, engineOptions, parseCount, parseUnit, UsageError, usagePrompt } from "./args";
import { progressLine } from "./progress";

export const TRACK_USAGE = `sam3 track <video> [options]

Tracks objects through a video file (MP4, MOV, MKV, WebM, AVI...), a folder of frames or an image. Text finds
every instance on every frame; clicks and boxes with --obj select one object. Coordinates are pixels.

  --text T                  concept to find on every frame (repeatable: several concepts)
  --point f,x,y[:neg]       click on frame f (repeatable); the next --obj says which object it is for
  --box f,x1,y1,x2,y2       box on frame f: with --obj an object to track, with --text an exemplar
  --obj ID                  object id of the --point / --box options before it
  --threshold F             text: detections scoring at least F (0..1) are kept and start new objects
                            (default SAM 3's: kept above 0.5, new objects from 0.7; the bundled random-weight
                            packs score low: try 0.1)
  --direction D             both (default) | forward | backward, from the first prompted frame
  --start F                 frame to propagate from
  --max-frames N            track at most N frames in each direction
  --remove ID               drop an object after tracking (repeatable)
  --max-side N              downscale frames whose longer side exceeds N pixels
  --stride N                use every Nth frame
  --max-pixels N            refuse frames above N pixels (default 100000000)
  --model DIR|PRESET, --device D, --engine URL, --threads N     as for segment
  --json                    print one JSON line per frame on stdout
  --out DIR                 write <name>.overlay.mp4 and <name>.frames.jsonl to DIR
  --png                     with --out: also one PNG sequence per object in <name>.masks/`;

/** A `--point f,x,y[:neg]` or `--box f,x1,y1,x2,y2[:neg]`, read by core's prompt grammar. */
type FramedPrompt = { frame: number; point: PointPrompt; box?: undefined } | { frame: number; box: BoxPrompt; point?: undefined };

const parseFramed = (text: string, kind: "point" | "box"): FramedPrompt => (kind === "point" ? usagePrompt(parseFramedPoint)(text) : usagePrompt(parseFramedBox)(text));

export async function trackCommand(argv: string[]): Promise<void> {
  const { values, positionals, tokens } = readCommandLine({
    args: argv,
    allowPositionals: true,
    tokens: true,
    options: {
      text: { type: "string", multiple: true },
      point: { type: "string", multiple: true },
      box: { type: "string", multiple: true },
      obj: { type: "string", multiple: true },
      threshold: { type: "string" },
      direction: { type: "string" },
      start: { type: "string" },
      "max-frames": { type: "string" },
      remove: { type: "string", multiple: true },
      "max-side": { type: "string" },
      stride: { type: "string" },
      ...ENGINE_FLAGS,
      json: { type: "boolean" },
      out: { type: "string" },
      png: { type: "boolean" },
    },
  }, "sam3 track --help");
  if (positionals.length !== 1) throw new UsageError(`give exactly one video, got ${positionals.length} (see sam3 track --help)`);
  const direction = (values.direction ?? "both") as PropagationDirection;
  if (!DIRECTIONS.includes(direction)) throw new UsageError(`--direction must be ${DIRECTIONS.join(", ")}, got "${direction}"`);
  if (values.png && !values.out) throw new UsageError("--png needs --out DIR");

  // each --obj claims the --point / --box options given since the previous --obj
  const objects: { id: number; prompts: FramedPrompt[] }[] = [];
  const exemplars: FramedPrompt[] = [];
  let pending: FramedPrompt[] = [];
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    if (token.name === "point" || token.name === "box") pending.push(parseFramed(token.value!, token.name));
    if (token.name === "obj") {
      const id = parseCount(token.value, "obj")!;
      if (!pending.length) throw new UsageError(`--obj ${id} has no --point or --box before it`);
      objects.push({ id, prompts: pending });
      pending = [];
    }
  }
  if (pending.some((p) => p.point)) throw new UsageError("every --point needs an --obj ID after it");
  if (pending.length && !values.text) objects.push({ id: Math.max(0, ...objects.map((o) => o.id)) + 1, prompts: pending });
  else exemplars.push(...pending);
  if (!values.text && !objects.length) throw new UsageError("give --text, or --point / --box with --obj (see sam3 track --help)");

  const threshold = parseUnit(values.threshold, "threshold");
  if (threshold !== undefined && !values.text) throw new UsageError("--threshold is the text detector's: give it with --text");
  const engine = engineOptions(values);
  // an output folder that cannot be made fails now, not after the tracking
  if (values.out) await ensureFolder(values.out);
  const predictor = await Sam3VideoPredictor.open(engine);
  try {
    const session = await predictor.handleRequest({
      type: "start_session",
      resource_path: positionals[0],
      max_side: parseCount(values["max-side"], "max-side"),
      stride: parseCount(values.stride, "stride"),
      threshold,
    });
    if (session.decode_error) process.stderr.write(`sam3: warning: ${session.decode_error}; using the ${session.frames} frames that decoded\n`);
    const id = session.session_id;
    if (values.text) await predictor.addPrompt(id, { frame: exemplars[0]?.frame ?? 0, text: values.text, boxes: exemplars.map((p) => p.box!) });
    for (const { id: objectId, prompts } of objects) {
      for (const p of prompts) {
        await predictor.addPrompt(id, { frame: p.frame, objectId, ...(p.point ? { points: [p.point] } : { boxes: [p.box] }) });
      }
    }
    const progress = progressLine("tracking");
    const processed: number[] = [];
    for await (const frame of predictor.propagate(id, {
      direction,
      start: parseCount(values.start, "start"),
      maxFrames: parseCount(values["max-frames"], "max-frames"),
    })) {
      processed.push(frame.frame_index);
      const { done, total, fps } = predictor.progress(id);
      progress.update(done, total, `${fps.toFixed(1)} fps`);
    }
    progress.end();
    for (const obj of values.remove ?? []) await predictor.handleRequest({ type: "remove_object", session_id: id, obj_id: parseCount(obj, "remove")! });
    if (values.json) {
      for (const t of processed.sort((a, b) => a - b)) process.stdout.write(JSON.stringify(predictor.frame(id, t)) + "\n");
    }
    if (values.out) {
      const writing = progressLine("writing");
      const stem = basename(positionals[0], extname(positionals[0])) || "video";
      const files = await predictor.export(id, values.out, stem, { overlay: true, json: true, png: values.png, onFrame: (d, n) => writing.update(d, n) });
      writing.end();
      process.stderr.write(`wrote ${files.join(", ")}\n`);
    }
    if (!values.json) {
      const info = predictor.info(id);
      process.stdout.write(`${processed.length} frame(s) tracked (${info.tracker}), objects: ${info.object_ids.join(", ") || "none"}\n`);
    }
  } finally {
    await predictor.close();
  }
}
