import { createReadStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import sharp from "sharp";
import { isSam3Error, Sam3Error } from "../core/errors";
import { frameToJson, segmentationToJson } from "../core/export/json";
import { maskToPng } from "../core/export/mask-png";
import { renderOverlay } from "../core/export/overlay";
import { cocoRleToMask } from "../core/export/rle";
import { writeVideoResults } from "../core/export/video-files";
import { zipFiles } from "../core/export/zip";
import { decodeImage } from "../core/image/decode";
import { PACKAGE_ROOT } from "../core/paths";
import type { Device } from "../core/runtime/devices";
import { Sam3, type SegmentedObject } from "../core/sam3";
import { Sam3VideoPredictor } from "../core/video/predictor";
import type { VideoRules } from "../core/video/rules";
import { MediaStore, type ImageMedia, type Media, type VideoMedia } from "./media-store";

export interface UiOptions {
  host?: string;
  port?: number;
  model?: string;
  device?: Device;
  /** Largest upload accepted, in bytes (default 200 MiB). */
  maxUploadBytes?: number;
  /** Video thresholds other than the official ones. */
  rules?: Partial<VideoRules>;
}

const STATIC = join(PACKAGE_ROOT, "web", "static");
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The interactive page and its JSON API over one shared model: images segmented at once, videos as sessions. */
export async function startUi(options: UiOptions = {}): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const engine = { model: options.model, device: options.device };
  const loading = Promise.all([Sam3.open(engine), Sam3VideoPredictor.open({ ...engine, rules: options.rules })]);
  let loaded: [Sam3, Sam3VideoPredictor] | undefined;
  let loadError: string | undefined;
  loading.then((l) => (loaded = l), (e) => (loadError = (e as Error).message));
  const ready = async () => {
    if (loadError) throw new HttpError(503, `the model failed to load: ${loadError}`);
    return loaded ?? (await loading);
  };
  const store = new MediaStore(16, async (media) => {
    if (media.kind === "video" && loaded) await loaded[1].handleRequest({ type: "close_session", session_id: media.sessionId });
  });
  const maxUpload = options.maxUploadBytes ?? 200 * 2 ** 20;

  const routes: [string, RegExp, (req: IncomingMessage, res: ServerResponse, match: string[]) => Promise<void>][] = [
    ["GET", /^\/api\/info$/, async (_req, res) => {
      const [sam] = loaded ?? [];
      json(res, { model: sam?.pack.manifest.name ?? options.model ?? "sam3-tiny-336", description: sam?.pack.manifest.description ?? "", device: sam?.device.active ?? options.device ?? "cpu", ready: !!loaded, ...(loadError ? { error: loadError } : {}) });
    }],
    ["POST", /^\/api\/media$/, async (req, res) => {
      const bytes = await body(req, maxUpload);
      const name = fileName(req.headers["x-file-name"]);
      const [, predictor] = await ready();
      const media = await upload(bytes, name, predictor);
      json(res, media);
    }],
    ["GET", /^\/api\/media\/([\w-]+)\/frames\/(\d+)$/, async (_req, res, [id, n]) => {
      const frame = await frameOf(find(id), Number(n));
      const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
      res.writeHead(200, { "content-type": "image/jpeg", "cache-control": "no-store" }).end(jpeg);
    }],
    ["GET", /^\/api\/media\/([\w-]+)\/frames\/(\d+)\/objects$/, async (_req, res, [id, n]) => {
      const media = find(id);
      if (media.kind === "image") return json(res, { objects: imageObjects(media) });
      json(res, { objects: await videoObjects(media, Number(n)) });
    }],
    ["POST", /^\/api\/media\/([\w-]+)\/segment$/, async (req, res, [id]) => {
      const request = JSON.parse((await body(req, 2 ** 20)).toString("utf8") || "{}");
      const media = find(id);
      json(res, { objects: media.kind === "image" ? await segmentImage(media, request) : await promptVideo(media, request) });
    }],
    ["POST", /^\/api\/media\/([\w-]+)\/propagate$/, async (req, res, [id]) => propagate(find(id), req, res)],
    ["POST", /^\/api\/media\/([\w-]+)\/cancel$/, async (_req, res, [id]) => {
      const media = videoOnly(find(id));
      const [, predictor] = await ready();
      json(res, { was_running: (await predictor.handleRequest({ type: "cancel_propagation", session_id: media.sessionId })).was_running });
    }],
    ["DELETE", /^\/api\/media\/([\w-]+)\/objects\/(\d+)$/, async (_req, res, [id, obj]) => {
      const found = find(id);
      if (found.kind === "image") return json(res, { objects: removeImageObject(found, Number(obj)) });
      const media = videoOnly(found);
      const [, predictor] = await ready();
      await predictor.handleRequest({ type: "remove_object", session_id: media.sessionId, obj_id: Number(obj) });
      json(res, { objects: (await predictor.handleRequest({ type: "get_session", session_id: media.sessionId })).object_ids });
    }],
    ["GET", /^\/api\/media\/([\w-]+)\/export\/(masks\.jsonl|masks\.zip|overlay\.mp4|overlay\.png)$/, async (_req, res, [id, file]) => exportFile(find(id), file, res)],
  ];

  async function upload(bytes: Buffer, name: string, predictor: Sam3VideoPredictor): Promise<object> {
    try {
      const image = await decodeImage(bytes);
      const media = (await store.add((id) => ({ kind: "image", id, image }))) as ImageMedia;
      return { id: media.id, kind: "image", width: image.width, height: image.height, frames: 1 };
    } catch (imageError) {
      if (!isSam3Error(imageError) || imageError.code !== "BAD_IMAGE" || /larger than the limit/.test(imageError.message)) throw imageError;
    }
    try {
      const info = await predictor.startSessionFromBytes(bytes, name);
      const media = await store.add((id) => ({ kind: "video", id, sessionId: info.session_id }));
      return { id: media.id, kind: "video", width: info.width, height: info.height, frames: info.frames, fps: info.fps };
    } catch (e) {
      if (isSam3Error(e) && e.code === "BAD_VIDEO") throw new HttpError(415, `${name} is neither an image nor a video this server can read`);
      throw e;
    }
  }

  async function segmentImage(media: ImageMedia, request: PromptRequest) {
    const [sam] = await ready();
    const options = { threshold: request.threshold, fineness: request.fineness };
    const concepts = splitConcepts(request.text);
    const objects: SegmentedObject[] = [];
    const labels = new Map<number, string>();
    let result;
    if (concepts.length) {
      for (const text of concepts) {
        result = await sam.segment(media.image, { text }, options);
        for (const o of result.objects) {
          const id = objects.length + 1;
          objects.push({ ...o, id });
          labels.set(id, text);
        }
      }
    } else {
      result = await sam.segment(media.image, { points: request.points, boxes: request.box ? [{ box: request.box }] : undefined }, options);
      objects.push(...result.objects);
      labels.set(1, "object");
    }
    media.last = { result: { ...result!, objects }, labels };
    return imageObjects(media);
  }

  function removeImageObject(media: ImageMedia, id: number): number[] {
    const last = media.last;
    if (!last?.result.objects.some((o) => o.id === id)) throw new HttpError(404, `there is no object ${id}`);
    last.result = { ...last.result, objects: last.result.objects.filter((o) => o.id !== id) };
    return last.result.objects.map((o) => o.id);
  }

  function imageObjects(media: ImageMedia) {
    if (!media.last) return [];
    return segmentationToJson(media.last.result).objects.map((o) => ({ ...o, label: media.last!.labels.get(o.id) }));
  }

  async function promptVideo(media: VideoMedia, request: PromptRequest) {
    const [, predictor] = await ready();
    const frame_index = request.frame ?? 0;
    const session_id = media.sessionId;
    const concepts = splitConcepts(request.text);
    if (concepts.length) {
      await predictor.handleRequest({ type: "add_prompt", session_id, frame_index, text: concepts });
    } else {
      const ids = predictor.session(session_id).objectIds();
      const obj_id = request.obj_id ?? Math.max(0, ...ids) + 1;
      const points = request.points ?? [];
      await predictor.handleRequest({
        type: "add_prompt",
        session_id,
        frame_index,
        obj_id,
        coordinates: "pixels",
        ...(points.length ? { points: points.map((p) => [p.x, p.y] as [number, number]), point_labels: points.map((p) => (p.positive === false ? 0 : 1)) } : {}),
        ...(request.box ? { bounding_boxes: [[request.box[0], request.box[1], request.box[2] - request.box[0], request.box[3] - request.box[1]] as [number, number, number, number]] } : {}),
      });
    }
    return videoObjects(media, frame_index);
  }

  async function videoObjects(media: VideoMedia, n: number) {
    const [, predictor] = await ready();
    const session = predictor.session(media.sessionId);
    const { width, height } = session.source.info;
    if (!(n >= 0 && n < session.source.info.frames)) throw new HttpError(400, `frame ${n} is out of range (0..${session.source.info.frames - 1})`);
    return frameToJson({ frame_index: n, outputs: session.outputs.outputs(n) }).objects.map((o) => {
      const [x, y, w, h] = o.box_xywh;
      return { id: o.id, label: session.labelOf(o.id) ?? "object", score: o.score, box: [x * width, y * height, (x + w) * width, (y + h) * height], area: o.area, rle: o.rle };
    });
  }

  async function propagate(media: Media, req: IncomingMessage, res: ServerResponse) {
    const video = videoOnly(media);
    const [, predictor] = await ready();
    const session = predictor.session(video.sessionId);
    const stream = predictor.handleStreamRequest({ type: "propagate_in_video", session_id: video.sessionId, propagation_direction: "forward" });
    // the first frame proves the request is valid before the 200 goes out
    const first = await stream.next();
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    const stop = () => void predictor.handleRequest({ type: "cancel_propagation", session_id: video.sessionId }).catch(() => undefined);
    req.socket.once("close", stop);
    try {
      for (let step = first; !step.done; step = await stream.next()) {
        const { done, total } = session.progress;
        res.write(JSON.stringify({ done, total, frame: step.value.frame_index }) + "\n");
      }
      const { done, cancelled } = session.progress;
      res.end(JSON.stringify({ finished: true, frames: done, cancelled }) + "\n");
    } finally {
      req.socket.off("close", stop);
    }
  }

  async function exportFile(media: Media, file: string, res: ServerResponse) {
    const [, predictor] = await ready();
    if (media.kind === "image") {
      const last = media.last ?? { result: undefined, labels: new Map<number, string>() };
      const objects = last.result?.objects ?? [];
      if (file === "overlay.png") return send(res, "image/png", await renderOverlay(media.image, objects.map((o) => ({ ...o, label: last.labels.get(o.id) }))), file);
      if (file === "masks.jsonl") return send(res, "application/jsonl", last.result ? JSON.stringify(segmentationToJson(last.result)) + "\n" : "", file);
      if (file === "masks.zip") return send(res, "application/zip", zipFiles(await Promise.all(objects.map(async (o) => ({ name: `mask-${o.id}.png`, data: await maskToPng(o.mask) })))), file);
      throw new HttpError(400, "an image has no overlay video: download overlay.png");
    }
    const session = predictor.session(media.sessionId);
    if (file === "overlay.png") throw new HttpError(400, "a video's overlay is overlay.mp4");
    if (file === "masks.jsonl") {
      const lines = [];
      for (let t = 0; t < session.source.info.frames; t++) {
        const outputs = session.outputs.outputs(t);
        if (outputs.out_obj_ids.length) lines.push(JSON.stringify(frameToJson({ frame_index: t, outputs })));
      }
      return send(res, "application/jsonl", lines.map((l) => l + "\n").join(""), file);
    }
    if (file === "masks.zip") {
      const entries = [];
      for (let t = 0; t < session.source.info.frames; t++) {
        const json = frameToJson({ frame_index: t, outputs: session.outputs.outputs(t) });
        for (const o of json.objects) entries.push({ name: `obj-${o.id}/${String(t).padStart(6, "0")}.png`, data: await maskToPng(cocoRleToMask(o.rle)) });
      }
      return send(res, "application/zip", zipFiles(entries), file);
    }
    const dir = await mkdtemp(join(tmpdir(), "sam3-ui-"));
    try {
      const [video] = await writeVideoResults(session, dir, "overlay", { overlay: true });
      send(res, "video/mp4", await readFile(video), file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  const find = (id: string): Media => {
    const media = store.get(id);
    if (!media) throw new HttpError(404, "this upload is no longer on the server: upload it again");
    return media;
  };

  async function frameOf(media: Media, n: number) {
    if (media.kind === "image") return media.image;
    const [, predictor] = await ready();
    return predictor.session(media.sessionId).source.readFrame(n);
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://ui").pathname;
    const route = routes.find(([method, pattern]) => method === req.method && pattern.test(path));
    if (!route) return serveStatic(path, res);
    route[2](req, res, route[1].exec(path)!.slice(1)).catch((e) => fail(res, e));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    server,
    url: `http://${options.host ?? "127.0.0.1"}:${address.port}/`,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await store.clear();
      const [sam, predictor] = await loading.catch(() => [] as unknown as [Sam3, Sam3VideoPredictor]);
      await Promise.all([sam?.close(), predictor?.close()]);
    },
  };
}

interface PromptRequest {
  frame?: number;
  text?: string;
  points?: { x: number; y: number; positive?: boolean }[];
  box?: [number, number, number, number];
  threshold?: number;
  fineness?: number;
  obj_id?: number;
}

/** The upload's name, sent URL-encoded because header values are ASCII. */
function fileName(header: string | string[] | undefined): string {
  const raw = String(header ?? "upload");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const splitConcepts = (text: string | undefined) => (text ?? "").split(",").map((s) => s.trim()).filter(Boolean);

function videoOnly(media: Media): VideoMedia {
  if (media.kind !== "video") throw new HttpError(400, "only a video can do that");
  return media;
}

function serveStatic(path: string, res: ServerResponse) {
  const name = path === "/" ? "index.html" : path.slice(1);
  const file = join(STATIC, name);
  if (name.includes("..") || !TYPES[extname(name)] || !existsSync(file)) return void res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  res.writeHead(200, { "content-type": TYPES[extname(name)], "cache-control": "no-cache" });
  createReadStream(file).pipe(res);
}

function body(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (declared > limit) return reject(new HttpError(413, `the file is ${Math.round(declared / 2 ** 20)} MiB; the limit is ${Math.round(limit / 2 ** 20)} MiB`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new HttpError(413, `the file is larger than the ${Math.round(limit / 2 ** 20)} MiB limit`));
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(value));
}

function send(res: ServerResponse, type: string, data: Buffer | string, name: string): void {
  res.writeHead(200, { "content-type": type, "content-disposition": `attachment; filename="${name}"` }).end(data);
}

const STATUS: Partial<Record<Sam3Error["code"], number>> = { UNKNOWN_SESSION: 404, UNKNOWN_OBJECT: 404, LIMIT_EXCEEDED: 429, FFMPEG_FAILED: 500, PACK_INVALID: 500 };

function fail(res: ServerResponse, e: unknown) {
  const status = e instanceof HttpError ? e.status : isSam3Error(e) ? (STATUS[e.code] ?? 400) : e instanceof SyntaxError ? 400 : 500;
  const message = e instanceof Error ? e.message : String(e);
  if (res.headersSent) return void res.end(JSON.stringify({ error: message }) + "\n");
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ error: message }));
}
