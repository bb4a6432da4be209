import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import sharp from "sharp";
import { z } from "zod";
import { rmdir } from "node:fs/promises";
import { decodeImage, fileStem, formatBytes, type ImageResults, renderOverlay, type RgbImage, Sam3Error, segmentationToJson, type SegmentationJson, writeSegmentationFiles } from "../../core";
import { viewerToolMeta } from "../app/viewer";
import type { McpContext } from "../context";
import { type FileLink, linkBlocks, linkFiles } from "../file-links";
import { objectLines } from "../object-lines";
import { guardTool } from "../tool-errors";
import { requirePrompt } from "./prompt-check";
import { jobOptions } from "./tool-extra";
import { box, candidate, coordinates, corePrompt, fileLink, imageObject, point } from "../schemas";

/** Overlay images sent back inline are shrunk to this longer side, and to JPEG if still too heavy. */
const OVERLAY_MAX_SIDE = 768;
const OVERLAY_MAX_BYTES = 400_000;
/** Objects whose masks come inline by default: a noisy mask's RLE can take 20 KB. */
const INLINE_MASKS = 5;

const IMAGE_EXPORTS = ["overlay", "png", "cutouts", "json", "polygons"] as const;

const input = {
  image_path: z.string().optional().describe("Image file to read, inside the server's allowed folders (relative paths start in the first one)."),
  image_base64: z.string().optional().describe("Or the image itself, base64 (a data: URL is fine). One of image_path / image_base64."),
  text: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe('A concept to find every instance of, e.g. "dog" or "red car", or several (["dog", "cat"]): each object is labelled with its concept. Uses the detector.'),
  points: z.array(point).optional().describe("Clicks on ONE object, without text: positive on it, negative on what to leave out. Uses the tracker."),
  boxes: z.array(box).optional().describe("Without text: one box around one object (tracker). With text: example boxes of the concept."),
  coordinates,
  threshold: z.number().min(0).max(1).optional().describe("Detector: keep instances scoring above this (default 0.5; 0.3-0.7 is the useful range)."),
  fineness: z.number().min(0).max(1).optional().describe("Mask edges: 0 keeps fine detail (hair, leaves), 1 smooths them (rigid objects). Default 0."),
  multimask: z.boolean().optional().describe("Tracker: true returns SAM's three candidate masks (object 1 the best, all in candidates), false one mask. Default: three for one click alone, one otherwise."),
  overlay: z.boolean().default(true).describe("Also return a small overlay image (each object tinted, with id and score)."),
  exports: z
    .array(z.enum(IMAGE_EXPORTS))
    .optional()
    .describe('Files to write to the output folder, returned as resource links: "overlay" (full-size PNG), "png" (a black-and-white mask PNG per object), "cutouts" (each object on a transparent background, cropped to it), "json" (every mask as COCO RLE), "polygons".'),
  max_inline_masks: z
    .number()
    .int()
    .min(0)
    .default(INLINE_MASKS)
    .describe(`Masks (COCO RLE) returned inline for this many objects at most, the best-scoring first (default ${INLINE_MASKS}; 0 for none). Every object's id, score and box comes regardless; when masks are left out, all of them are written to a JSON file returned as a resource link.`),
};

const output = {
  image: z.object({ width: z.number(), height: z.number() }),
  model: z.string(),
  objects: z
    .array(imageObject.extend({ rle: imageObject.shape.rle.optional().describe("COCO RLE; only for the max_inline_masks best-scoring objects (the rest are in the full result file)") }))
    .describe("Best first. score: detector = confidence the instance shows the concept; tracker = the model's estimate of its mask's IoU."),
  candidates: z.array(candidate).optional().describe("Tracker, multimask output: all three candidate masks; object 1 is the best."),
  masks_left_out: z.number().describe("Objects whose masks are not inline: they are in full_result."),
  full_result: fileLink.optional().describe("The whole result with every mask, when masks_left_out > 0 or json was exported."),
  files: z.array(fileLink).describe("The files written (exports and the full result)."),
  warnings: z.array(z.string()),
};

export function registerSegmentImage(server: McpServer, ctx: McpContext) {
  server.registerTool(
    "segment_image",
    {
      title: "Segment an image",
      description: [
        "Segments objects in one image with SAM 3 and returns their masks (COCO RLE), boxes and scores.",
        'Text ("dog") finds EVERY instance of a concept; points and/or one box without text select ONE object.',
        'Example: {"image_path": "photos/street.jpg", "text": "car"} or {"image_path": "photos/street.jpg", "points": [{"x": 420, "y": 300}]}.',
        "Coordinates are pixels unless coordinates is \"relative\" (0..1). Boxes are x1,y1 (top-left) to x2,y2 (bottom-right).",
      ].join(" "),
      inputSchema: input,
      outputSchema: output,
      _meta: viewerToolMeta(),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    guardTool(ctx.paths, "segment_image", async (args, extra) => {
      const input = readImage(args, ctx);
      requirePrompt(args, "segment");
      return ctx.jobs.run(async () => {
        const image = await decodeImage(input);
        const sam = await ctx.sam();
        const result = await sam.segment(image, { text: args.text, ...corePrompt(args) }, { threshold: args.threshold, fineness: args.fineness, multimask: args.multimask, coordinates: args.coordinates });
        const json = segmentationToJson(result);
        const inline = bestScoring(json.objects, args.max_inline_masks);
        const objects = json.objects.map(({ rle, ...o }) => (inline.has(o.id) ? { ...o, rle } : o));
        const leftOut = json.objects.length - inline.size;
        const stem = args.image_path ? fileStem(args.image_path, "image") : "image";
        const written = await writeExports(ctx, result, image, stem, new Set(args.exports), leftOut > 0);
        const fullResult = written?.files.find((f) => f.name === `${stem}.json`);
        const warnings = result.warnings.map((w) => ctx.paths.scrub(w));
        const text = [
          `${json.objects.length} object(s) in the ${json.image.width}x${json.image.height} image` + (json.objects.length ? `; best score ${json.objects[0].score.toFixed(3)}` : "") + ".",
          ...(json.objects.length ? [objectLines(json.objects, fullResult ? `all in structuredContent and ${fullResult.uri}` : "all in structuredContent")] : []),
          ...(leftOut ? [`Masks (COCO RLE) inline for the ${inline.size} best-scoring object(s) (max_inline_masks); every mask is in ${fullResult!.uri}.`] : []),
          ...(written ? [written.text] : []),
          ...warnings,
        ].join("\n");
        const content: ({ type: "text"; text: string } | { type: "image"; data: string; mimeType: string } | ({ type: "resource_link" } & FileLink))[] = [{ type: "text", text }];
        if (args.overlay) content.push(await overlayBlock(image, result.objects));
        content.push(...linkBlocks(written?.files ?? []));
        const structured = { ...json, objects, masks_left_out: leftOut, ...(fullResult ? { full_result: fullResult } : {}), files: written?.files ?? [], warnings };
        return { content, structuredContent: structured };
      }, jobOptions(extra));
    }, ctx.log),
  );
}

/** The ids of the `count` best-scoring objects (the first listed among equals). */
function bestScoring(objects: SegmentationJson["objects"], count: number): Set<number> {
  const ranked = objects.map((o, i) => ({ id: o.id, score: o.score, i })).sort((a, b) => b.score - a.score || a.i - b.i);
  return new Set(ranked.slice(0, count).map((o) => o.id));
}

/** Writes the asked formats (and the whole JSON when masks were left out) to a fresh job folder; undefined when nothing is to be written. */
async function writeExports(ctx: McpContext, result: ImageResults, image: RgbImage, stem: string, wanted: Set<string>, fullJson: boolean) {
  if (!wanted.size && !fullJson) return undefined;
  const folder = await ctx.jobFolder(stem);
  const has = (format: (typeof IMAGE_EXPORTS)[number]) => wanted.has(format);
  const options = { dir: folder, stem, overlay: has("overlay"), cutouts: has("cutouts"), png: has("png"), polygons: has("polygons"), json: has("json") || fullJson };
  const written = await writeSegmentationFiles(result, image, options).catch(async (e) => {
    // the export removes what it wrote; the folder made for it goes too
    await rmdir(folder).catch(() => undefined);
    throw e;
  });
  // the full result first, so the link cap never leaves it out
  const full = (path: string) => path.endsWith(`${stem}.json`);
  return linkFiles(ctx.paths, folder, [...written.filter(full), ...written.filter((path) => !full(path))]);
}

function readImage(args: { image_path?: string; image_base64?: string }, ctx: McpContext): string | Buffer {
  if (!!args.image_path === !!args.image_base64) throw new Sam3Error("BAD_REQUEST", "give exactly one of image_path and image_base64");
  if (args.image_path) return ctx.paths.readable(args.image_path);
  const data = args.image_base64!.replace(/^data:[^,]*,/, "");
  if ((data.length * 3) / 4 > ctx.maxBase64Bytes) {
    throw new Sam3Error("LIMIT_EXCEEDED", `image_base64 is larger than the ${formatBytes(ctx.maxBase64Bytes)} this server accepts; save it to a file and pass image_path`);
  }
  return Buffer.from(data, "base64");
}

async function overlayBlock(image: RgbImage, objects: Parameters<typeof renderOverlay>[1]) {
  const png = await renderOverlay(image, objects);
  const small = sharp(png).resize(OVERLAY_MAX_SIDE, OVERLAY_MAX_SIDE, { fit: "inside", withoutEnlargement: true });
  let data = await small.clone().png().toBuffer();
  let mimeType = "image/png";
  if (data.length > OVERLAY_MAX_BYTES) {
    data = await small.jpeg({ quality: 70 }).toBuffer();
    mimeType = "image/jpeg";
  }
  return { type: "image" as const, data: data.toString("base64"), mimeType };
}
