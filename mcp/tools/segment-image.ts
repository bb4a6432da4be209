import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import sharp from "sharp";
import { z } from "zod";
import { decodeImage, formatBytes, renderOverlay, type RgbImage, Sam3Error, segmentationToJson } from "../../core";
import type { McpContext } from "../context";
import { guardTool } from "../tool-errors";
import { jobOptions } from "./tool-extra";
import { box, candidate, coordinates, corePrompt, imageObject, point } from "../schemas";

/** Overlay images sent back inline are shrunk to this longer side, and to JPEG if still too heavy. */
const OVERLAY_MAX_SIDE = 768;
const OVERLAY_MAX_BYTES = 400_000;

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
};

const output = {
  image: z.object({ width: z.number(), height: z.number() }),
  model: z.string(),
  objects: z.array(imageObject).describe("Best first. score: detector = confidence the instance shows the concept; tracker = the model's estimate of its mask's IoU."),
  candidates: z.array(candidate).optional().describe("Tracker, multimask output: all three candidate masks; object 1 is the best."),
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
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guardTool(ctx.paths, "segment_image", async (args, extra) => {
      const input = readImage(args, ctx);
      return ctx.jobs.run(async () => {
        const image = await decodeImage(input);
        const sam = await ctx.sam();
        const result = await sam.segment(image, { text: args.text, ...corePrompt(args) }, { threshold: args.threshold, fineness: args.fineness, multimask: args.multimask, coordinates: args.coordinates });
        const json = segmentationToJson(result);
        const warnings = result.warnings.map((w) => ctx.paths.scrub(w));
        const structured = { ...json, warnings };
        const summary = `${json.objects.length} object(s) in the ${json.image.width}x${json.image.height} image` +
          (json.objects.length ? `; best score ${json.objects[0].score.toFixed(3)}` : "") +
          (warnings.length ? `. ${warnings.join(". ")}` : "");
        const content: ({ type: "text"; text: string } | { type: "image"; data: string; mimeType: string })[] = [{ type: "text", text: summary }];
        if (args.overlay) content.push(await overlayBlock(image, result.objects));
        return { content, structuredContent: structured };
      }, jobOptions(extra));
    }, ctx.log),
  );
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
