import { mkdtemp, readdir, readFile, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { asSam3Error, ensureFolder, type ImageExportFormats, isInside, LIMITS, listFiles, type ObjectJson, Sam3Error, type SegmentationJson, writeSegmentationJsonFiles } from "../core";
import { modelNode, numberFrom, registerInputNode, sessionIdOf, type NodeAPI, type NodeDef, type Sam3Message } from "./lib/node-kit";
import { safeFileName } from "./lib/safe-name";

interface ExportConfig extends NodeDef {
  model: string;
  directory: string;
  stem: string;
  json: boolean;
  png: boolean;
  polygons: boolean;
  overlay: boolean;
  tolerance: string;
}

/**
 * Writes masks to files: a video session's (RLE JSON lines, PNG sequences, polygons, overlay MP4) or an image
 * result's from sam3-segment-image (RLE JSON, PNGs, polygons, overlay PNG). Without a directory, the files come
 * back as Buffers. Nothing is written outside the node's directory, whatever the message says.
 */
export = (RED: NodeAPI) =>
  registerInputNode<ExportConfig>(RED, "sam3-export-masks", (node, config) => {
    async function exportVideo(msg: Sam3Message, dir: string, stem: string, formats: ImageExportFormats) {
      const model = modelNode(RED, node, config.model);
      const predictor = await model.video(node);
      return predictor.export(sessionIdOf(msg), dir, stem, { ...formats, overlay: config.overlay });
    }

    async function exportImage(msg: Sam3Message, dir: string, stem: string, formats: ImageExportFormats) {
      const result = imageResult(msg);
      if (config.overlay && !Buffer.isBuffer(msg.image)) throw new Sam3Error("BAD_REQUEST", "no overlay to export: enable Overlay in sam3-segment-image (it sets msg.image)");
      return writeSegmentationJsonFiles(result, { dir, stem, ...formats, overlay: config.overlay ? (msg.image as Buffer) : undefined });
    }

    return async (msg, send) => {
      const stem = safeFileName(msg.stem ?? config.stem, "sam3");
      const formats = { json: config.json, png: config.png, polygons: config.polygons, tolerance: numberFrom(msg.tolerance, config.tolerance, "tolerance") };
      if (!formats.json && !formats.png && !formats.polygons && !config.overlay) throw new Sam3Error("BAD_OPTION", "choose at least one format to export");
      const base = config.directory ? await ensureFolder(config.directory) : await mkdtemp(join(tmpdir(), "sam3-export-"));
      try {
        const dir = await outputFolder(base, msg.directory);
        await refuseLinks(dir, stem);
        node.status({ fill: "blue", shape: "dot", text: "exporting" });
        const written = await (msg.session ? exportVideo(msg, dir, stem, formats) : exportImage(msg, dir, stem, formats)).catch((e: unknown) => Promise.reject(asSam3Error(e, "writing the masks")));
        const files = (await Promise.all(written.map(listFiles))).flat();
        msg.payload = config.directory ? files : await Promise.all(files.map(async (f) => ({ name: relative(dir, f), data: await readFile(f) })));
        node.status({ fill: "green", shape: "dot", text: `${files.length} file${files.length === 1 ? "" : "s"}` });
      } finally {
        if (!config.directory) await rm(base, { recursive: true, force: true });
      }
      // sent once the temporary folder is gone, so nothing is left behind if the runtime stops right after
      send(msg);
    };
  });

/** Bytes of decoded masks one image export may hold at once (every object's mask is decoded before writing). */
const MAX_MASK_BYTES = 2 ** 31;

/**
 * The image result a message carries (from sam3-segment-image), checked before any mask is decoded: the image's
 * size within the pixel limit, every mask of that size, all of them within MAX_MASK_BYTES.
 */
function imageResult(msg: Sam3Message): SegmentationJson {
  const info = msg.sam3 as { image?: { width?: unknown; height?: unknown }; model?: unknown } | undefined;
  if (!Array.isArray(msg.payload) || !info?.image) {
    throw new Sam3Error("BAD_REQUEST", "nothing to export: wire this node after sam3-segment-image (msg.payload objects + msg.sam3) or give msg.session");
  }
  const { width, height } = info.image;
  if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && (width as number) > 0 && (height as number) > 0)) {
    throw new Sam3Error("BAD_REQUEST", "msg.sam3.image must be {width, height} in whole pixels");
  }
  const pixels = (width as number) * (height as number);
  if (pixels > LIMITS.pixels) throw new Sam3Error("LIMIT_EXCEEDED", `msg.sam3.image is larger than the limit of ${LIMITS.pixels} pixels`);
  const objects = msg.payload as ObjectJson[];
  if (objects.length * pixels > MAX_MASK_BYTES) throw new Sam3Error("LIMIT_EXCEEDED", `${objects.length} masks of ${width}x${height} are more than one export holds`);
  for (const o of objects) {
    const size = (o as { rle?: { size?: unknown } } | null)?.rle?.size;
    if (!Array.isArray(size) || size[0] !== height || size[1] !== width) throw new Sam3Error("BAD_REQUEST", `every object of msg.payload needs an rle mask of the image's size (${height}x${width})`);
  }
  return { image: { width: width as number, height: height as number }, model: typeof info.model === "string" ? info.model : "", objects };
}

/**
 * The folder to write to: the node's own, or msg.directory as a folder inside it (plain names only); its real path
 * must stay inside the node's folder, so a link cannot lead the files elsewhere.
 */
async function outputFolder(base: string, sub: unknown): Promise<string> {
  if (sub === undefined || sub === null || sub === "") return base;
  const parts = typeof sub === "string" ? sub.split("/") : [];
  if (!parts.length || parts.some((part) => !part || safeFileName(part, "") !== part)) {
    throw new Sam3Error("PATH_NOT_ALLOWED", "msg.directory must be a folder inside the node's Directory, in plain names (letters, digits, ._-) separated by /");
  }
  const dir = await ensureFolder(join(base, ...parts));
  if (!isInside(await realpath(base), await realpath(dir))) throw new Sam3Error("PATH_NOT_ALLOWED", "msg.directory leads outside the node's Directory");
  return dir;
}

/** Files of a previous export are overwritten: one that is a link would send the new file where the link points. */
async function refuseLinks(dir: string, stem: string) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.name.startsWith(`${stem}.`)) continue;
    const links = entry.isSymbolicLink() || (entry.isDirectory() && (await readdir(join(dir, entry.name), { recursive: true, withFileTypes: true })).some((e) => e.isSymbolicLink()));
    if (links) throw new Sam3Error("PATH_NOT_ALLOWED", `${entry.name} in the output folder is, or holds, a link: remove it, so the export stays in its folder`);
  }
}
