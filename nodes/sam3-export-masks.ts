import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { writeSegmentationJsonFiles, type ImageExportFormats } from "../core/export/files";
import type { ObjectJson, SegmentationJson } from "../core/export/json";
import { listFiles } from "../core/export/list-files";
import { writeVideoResults } from "../core/export/video-files";
import { modelNode, numberFrom, registerInputNode, sessionIdOf, type NodeAPI, type NodeDef, type Sam3Message } from "./lib/node-kit";

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
 * back as Buffers.
 */
export = (RED: NodeAPI) =>
  registerInputNode<ExportConfig>(RED, "sam3-export-masks", (node, config) => {
    async function exportVideo(msg: Sam3Message, dir: string, stem: string, formats: ImageExportFormats) {
      const model = modelNode(RED, node, config.model);
      const predictor = await model.video(node);
      return writeVideoResults(predictor.session(sessionIdOf(msg)), dir, stem, { ...formats, overlay: config.overlay });
    }

    async function exportImage(msg: Sam3Message, dir: string, stem: string, formats: ImageExportFormats) {
      const info = msg.sam3 as { image?: SegmentationJson["image"]; model?: string } | undefined;
      if (!Array.isArray(msg.payload) || !info?.image) {
        throw new Error("nothing to export: wire this node after sam3-segment-image (msg.payload objects + msg.sam3) or give msg.session");
      }
      const json: SegmentationJson = { image: info.image, model: info.model ?? "", objects: msg.payload as ObjectJson[] };
      const files = await writeSegmentationJsonFiles(json, dir, stem, formats);
      if (config.overlay) {
        if (!Buffer.isBuffer(msg.image)) throw new Error("no overlay to export: enable Overlay in sam3-segment-image (it sets msg.image)");
        const overlay = join(dir, `${stem}.overlay.png`);
        await writeFile(overlay, msg.image);
        files.unshift(overlay);
      }
      return files;
    }

    return async (msg, send) => {
      const directory = (msg.directory as string | undefined) ?? config.directory;
      const stem = (msg.stem as string | undefined) ?? (config.stem || "sam3");
      const formats = { json: config.json, png: config.png, polygons: config.polygons, tolerance: numberFrom(msg.tolerance, config.tolerance, "tolerance") };
      if (!formats.json && !formats.png && !formats.polygons && !config.overlay) throw new Error("choose at least one format to export");
      const dir = directory || (await mkdtemp(join(tmpdir(), "sam3-export-")));
      try {
        node.status({ fill: "blue", shape: "dot", text: "exporting" });
        const written = msg.session ? await exportVideo(msg, dir, stem, formats) : await exportImage(msg, dir, stem, formats);
        const files = (await Promise.all(written.map(listFiles))).flat();
        msg.payload = directory ? files : await Promise.all(files.map(async (f) => ({ name: relative(dir, f), data: await readFile(f) })));
        node.status({ fill: "green", shape: "dot", text: `${files.length} file${files.length === 1 ? "" : "s"}` });
      } finally {
        if (!directory) await rm(dir, { recursive: true, force: true });
      }
      // sent once the temporary folder is gone, so nothing is left behind if the runtime stops right after
      send(msg);
    };

  });
