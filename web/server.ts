import { createReadStream, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { basename, extname, join } from "node:path";
import sharp from "sharp";
import { CAPABILITY_LABELS, type Capability, decodeImage, describeCapabilities, type Device, isSam3Error, LIMITS, PACKAGE_ROOT, Sam3, Sam3Error, Sam3VideoPredictor, segmentationToJson, type SessionInfo, type VideoRules, imageResultFile, type ImageResultFile, type VideoResultFile } from "../core";
import { bracketed, checkToken, Gate, isLoopback, newToken } from "./gate";
import { BASE_HEADERS, errorReply, fail, hidePaths, json, readBody, readJson, send, WebError } from "./http";
import { MediaStore, type ImageMedia, type Media, type VideoMedia } from "./media-store";
import { checkOnFrame, frameNumber, objectNumber, parsePrompt, type PromptRequest } from "./requests";
import { looksLikeImage, uploadName, videoFileName } from "./upload-kind";

export interface UiOptions {
  host?: string;
  port?: number;
  model?: string;
  device?: Device;
  /** Largest upload accepted, in bytes (default 200 MiB). */
  maxUploadBytes?: number;
  /** Video thresholds other than the official ones. */
  rules?: Partial<VideoRules>;
  /** The secret in the printed URL (default: a new random one); false serves loopback without one. */
  token?: string | false;
  /** More Host names to accept besides the bound address and the loopback names. */
  allowedHosts?: string[];
  /** Video sessions one client may hold (default 2; the model serves 8 in all). */
  videosPerClient?: number;
  /** Bytes one client's uploads may hold together (default 512 MiB). */
  bytesPerClient?: number;
  /** Where unexpected failures are logged with their stack (default stderr); clients only see "unexpected failure". */
  log?: (line: string) => void;
}

const STATIC = join(PACKAGE_ROOT, "web", "static");
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };
// the page's files, listed once: a URL only ever selects one of these
const PAGE_FILES = new Map(readdirSync(STATIC).filter((f) => TYPES[extname(f)]).map((f) => [`/${f}`, join(STATIC, f)]));
PAGE_FILES.set("/", join(STATIC, "index.html"));
const UUID = "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})";
const MEDIA = `^/api/media/${UUID}`;
// uploads being read at once, server-wide: each is held in memory up to the upload limit
const CONCURRENT_UPLOADS = 4;

type Route = [string, RegExp, (req: IncomingMessage, res: ServerResponse, match: string[], client: string) => Promise<void>];

/** Why a server could not listen, in words (the codes Node gives). */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: "the port is in use: choose another --port",
  EADDRNOTAVAIL: "that address is not one of this machine's: choose another --host",
  EACCES: "ports below 1024 need privileges: choose a higher --port",
  ENOTFOUND: "that host name does not resolve: give an address such as 127.0.0.1",
};

/** Video sessions the server's predictor holds open, shared by every client. */
const VIDEO_SESSIONS = 8;

/** The interactive page and its JSON API over one shared model: images segmented at once, videos as sessions. */
export async function startUi(options: UiOptions = {}): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token === false ? false : checkToken(options.token ?? newToken());
  if (token === false && !isLoopback(host)) {
    throw new Sam3Error("BAD_OPTION", `serving ${host} without a token would let anyone on the network use it: keep the token (drop --no-token) or bind to 127.0.0.1`);
  }
  const log = options.log ?? ((line: string) => void process.stderr.write(`sam3 ui: ${line}\n`));
  const engine = { model: options.model, device: options.device };
  const loading = Promise.all([Sam3.open(engine), Sam3VideoPredictor.open({ ...engine, rules: options.rules, maxSessions: VIDEO_SESSIONS })]);
  let loaded: [Sam3, Sam3VideoPredictor] | undefined;
  let loadError: string | undefined;
  loading.then((l) => (loaded = l), (e) => (loadError = errorReply(e, log).body.error));
  const ready = async () => {
    if (loadError) throw new WebError(503, "PACK_INVALID", `the model failed to load: ${loadError}`);
    return loaded ?? (await loading);
  };
  const store = new MediaStore(
    { uploadsPerClient: 8, videosPerClient: options.videosPerClient ?? 2, bytesPerClient: options.bytesPerClient ?? 512 * 2 ** 20, uploads: 32, videos: VIDEO_SESSIONS, idleMs: 30 * 60_000 },
    async (media) => {
      if (media.kind === "video" && loaded) await loaded[1].handleRequest({ type: "close_session", session_id: media.sessionId });
    },
  );
  const maxUpload = options.maxUploadBytes ?? 200 * 2 ** 20;
  const uploading = new Set<string>();

  const routes: Route[] = [
    ["GET", /^\/api\/info$/, async (_req, res) => {
      const [sam] = loaded ?? [];
      json(res, {
        model: sam?.pack.manifest.name ?? basename(options.model ?? "sam3-tiny-336"),
        description: sam?.pack.manifest.description ?? "",
        device: sam?.device.active ?? options.device ?? "cpu",
        ready: !!loaded,
        ...(sam ? capabilityReport(sam) : {}),
        ...(loadError ? { error: loadError } : {}),
      });
    }],
    ["POST", /^\/api\/media$/, async (req, res, _match, client) => json(res, await receive(req, client))],
    ["DELETE", new RegExp(`${MEDIA}$`), async (_req, res, [id], client) => {
      if (!(await store.remove(client, id))) throw gone();
      json(res, { closed: true });
    }],
    ["GET", new RegExp(`${MEDIA}/frames/([^/]+)$`), async (_req, res, [id, n], client) => {
      const media = find(client, id);
      const frame = await frameOf(media, frameNumber(n, await framesOf(media)));
      const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
      res.writeHead(200, { "content-type": "image/jpeg", "cache-control": "no-store" }).end(jpeg);
    }],
    ["GET", new RegExp(`${MEDIA}/frames/([^/]+)/objects$`), async (_req, res, [id, n], client) => {
      const media = find(client, id);
      const frame = frameNumber(n, await framesOf(media));
      json(res, { objects: media.kind === "image" ? imageObjects(media) : await videoObjects(media, frame) });
    }],
    ["POST", new RegExp(`${MEDIA}/segment$`), async (req, res, [id], client) => {
      const media = find(client, id);
      const request = parsePrompt(await readJson(req));
      json(res, { objects: media.kind === "image" ? await segmentImage(media, request) : await promptVideo(media, request) });
    }],
    ["POST", new RegExp(`${MEDIA}/propagate$`), async (req, res, [id], client) => {
      const media = videoOnly(find(client, id));
      emptyBody(await readJson(req));
      await propagate(media, req, res);
    }],
    ["POST", new RegExp(`${MEDIA}/cancel$`), async (req, res, [id], client) => {
      const media = videoOnly(find(client, id));
      emptyBody(await readJson(req));
      const [, predictor] = await ready();
      json(res, { was_running: (await predictor.handleRequest({ type: "cancel_propagation", session_id: media.sessionId })).was_running });
    }],
    ["DELETE", new RegExp(`${MEDIA}/objects/([^/]+)$`), async (_req, res, [id, obj], client) => {
      const found = find(client, id);
      const objId = objectNumber(obj);
      if (found.kind === "image") return json(res, { objects: removeImageObject(found, objId) });
      const [, predictor] = await ready();
      if (!predictor.info(found.sessionId).object_ids.includes(objId)) throw new WebError(404, "UNKNOWN_OBJECT", `there is no object ${objId}`);
      await predictor.handleRequest({ type: "remove_object", session_id: found.sessionId, obj_id: objId });
      json(res, { objects: (await predictor.handleRequest({ type: "get_session", session_id: found.sessionId })).object_ids });
    }],
    ["GET", new RegExp(`${MEDIA}/export/(masks\\.jsonl|masks\\.zip|overlay\\.mp4|overlay\\.png)$`), async (_req, res, [id, file], client) => exportFile(find(client, id), file, res)],
  ];

  /** An upload: read within the limits, then an image (or BAD_IMAGE) by its first bytes, else a video session. */
  async function receive(req: IncomingMessage, client: string): Promise<object> {
    if (uploading.has(client)) throw new WebError(429, "LIMIT_EXCEEDED", "your previous upload is still being received: wait for it to finish");
    if (uploading.size >= CONCURRENT_UPLOADS) throw new WebError(429, "LIMIT_EXCEEDED", "the server is receiving other uploads: try again in a moment");
    uploading.add(client);
    try {
      const bytes = await readBody(req, maxUpload, "the file");
      const name = uploadName(req.headers["x-file-name"]);
      if (!bytes.length) throw new WebError(400, "BAD_REQUEST", `${name} is empty`);
      const [, predictor] = await ready();
      if (looksLikeImage(bytes)) {
        const unreadable = (e: unknown) => new WebError(400, "BAD_IMAGE", `${name} is not a readable image: ${isSam3Error(e) ? e.message.replace(/^cannot decode image: /, "") : "the file is truncated or corrupt"}`);
        // the header's size is reserved against the quota before the pixels are decoded
        const { width = 0, height = 0 } = await sharp(bytes, { limitInputPixels: false }).metadata().catch((e) => { throw unreadable(e); });
        if (width * height > LIMITS.pixels) throw new WebError(400, "BAD_IMAGE", `${name} is ${width}x${height}, over the limit of ${LIMITS.pixels.toLocaleString("en")} pixels`);
        const media = await store.add<ImageMedia>(client, "image", width * height * 3, async () => ({ kind: "image", image: await decodeImage(bytes, LIMITS.pixels).catch((e) => { throw unreadable(e); }) }));
        return { id: media.id, kind: "image", width: media.image.width, height: media.image.height, frames: 1 };
      }
      let info: SessionInfo | undefined;
      const media = await store.add<VideoMedia>(client, "video", bytes.length, async () => {
        info = await predictor.startSessionFromBytes(bytes, videoFileName(name)).catch((e) => {
          throw isSam3Error(e) && e.code === "BAD_VIDEO" ? new WebError(415, "BAD_VIDEO", `${name} is neither an image nor a video this server can read`) : e;
        });
        return { kind: "video", sessionId: info.session_id };
      });
      const { width, height, frames, fps } = info!;
      return { id: media.id, kind: "video", width, height, frames, fps };
    } finally {
      uploading.delete(client);
    }
  }

  async function segmentImage(media: ImageMedia, request: PromptRequest) {
    const [sam] = await ready();
    const options = { threshold: request.threshold, fineness: request.fineness };
    const concepts = request.concepts;
    if ((request.frame ?? 0) !== 0) throw new WebError(400, "BAD_REQUEST", "an image has only frame 0");
    checkOnFrame(request, media.image.width, media.image.height);
    const result = concepts.length
      ? await sam.segment(media.image, { text: concepts }, options)
      : await sam.segment(media.image, { points: request.points, boxes: request.box ? [{ box: request.box }] : undefined }, options);
    media.last = { result: { ...result, objects: result.objects.map((o) => ({ ...o, label: o.label ?? "object" })) } };
    return imageObjects(media);
  }

  function removeImageObject(media: ImageMedia, id: number): number[] {
    const last = media.last;
    if (!last?.result.objects.some((o) => o.id === id)) throw new WebError(404, "UNKNOWN_OBJECT", `there is no object ${id}`);
    last.result = { ...last.result, objects: last.result.objects.filter((o) => o.id !== id) };
    return last.result.objects.map((o) => o.id);
  }

  function imageObjects(media: ImageMedia) {
    if (!media.last) return [];
    return segmentationToJson(media.last.result).objects;
  }

  async function promptVideo(media: VideoMedia, request: PromptRequest) {
    const [, predictor] = await ready();
    const session_id = media.sessionId;
    const info = predictor.info(session_id);
    const frame_index = frameNumber(String(request.frame ?? 0), info.frames);
    checkOnFrame(request, info.width, info.height);
    const concepts = request.concepts;
    if (concepts.length) {
      await predictor.addPrompt(session_id, { frame: frame_index, text: concepts });
    } else {
      const ids = info.object_ids;
      const obj_id = request.obj_id ?? Math.max(0, ...ids) + 1;
      const points = request.points ?? [];
      await predictor.addPrompt(session_id, { frame: frame_index, objectId: obj_id, points: request.points, boxes: request.box ? [{ box: request.box }] : undefined });
    }
    return videoObjects(media, frame_index);
  }

  async function videoObjects(media: VideoMedia, n: number) {
    const [, predictor] = await ready();
    return predictor.frame(media.sessionId, n).objects.map((o) => ({ ...o, label: o.label ?? "object" }));
  }

  async function propagate(video: VideoMedia, req: IncomingMessage, res: ServerResponse) {
    const [, predictor] = await ready();
    const stream = predictor.propagate(video.sessionId, { direction: "forward" });
    // the first frame proves the request is valid before the 200 goes out
    const first = await stream.next();
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    const stop = () => void predictor.handleRequest({ type: "cancel_propagation", session_id: video.sessionId }).catch(() => undefined);
    req.socket.once("close", stop);
    try {
      for (let step = first; !step.done; step = await stream.next()) {
        video.lastUsed = Date.now();
        const { done, total } = predictor.progress(video.sessionId);
        res.write(JSON.stringify({ done, total, frame: step.value.frame_index }) + "\n");
      }
      const { done, cancelled } = predictor.progress(video.sessionId);
      res.end(JSON.stringify({ finished: true, frames: done, cancelled }) + "\n");
    } finally {
      req.socket.off("close", stop);
    }
  }

  async function exportFile(media: Media, file: string, res: ServerResponse) {
    const [, predictor] = await ready();
    if (media.kind === "image") {
      const result = media.last?.result ?? { image: media.image, model: "", objects: [] };
      if (file !== "overlay.mp4") return send(res, file === "overlay.png" ? "image/png" : file === "masks.zip" ? "application/zip" : "application/jsonl", await imageResultFile(result, media.image, file as ImageResultFile), file);
      throw new WebError(400, "BAD_REQUEST", "an image has no overlay video: download overlay.png");
    }
    if (file === "overlay.png") throw new WebError(400, "BAD_REQUEST", "a video's overlay is overlay.mp4");
    send(res, file === "overlay.mp4" ? "video/mp4" : file === "masks.zip" ? "application/zip" : "application/jsonl", await predictor.exportFile(media.sessionId, file as VideoResultFile), file);
  }

  const gone = () => new WebError(404, "UNKNOWN_SESSION", "this upload is no longer on the server: upload it again");
  const find = (client: string, id: string): Media => store.get(client, id) ?? (() => { throw gone(); })();

  async function framesOf(media: Media): Promise<number> {
    if (media.kind === "image") return 1;
    const [, predictor] = await ready();
    return predictor.info(media.sessionId).frames;
  }

  async function frameOf(media: Media, n: number) {
    if (media.kind === "image") return media.image;
    const [, predictor] = await ready();
    return predictor.frameImage(media.sessionId, n);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    for (const [name, value] of Object.entries(BASE_HEADERS)) res.setHeader(name, value);
    const url = requestUrl(req);
    const { client, redirect } = gate.admit(req, res, url);
    if (redirect) return void res.writeHead(302, { location: redirect }).end();
    const route = routes.find(([method, pattern]) => method === req.method && pattern.test(url.pathname));
    if (route) return route[2](req, res, route[1].exec(url.pathname)!.slice(1), client);
    if (url.pathname.startsWith("/api/")) throw new WebError(404, "BAD_REQUEST", `there is no ${req.method} ${url.pathname.slice(0, 100)}`);
    serveStatic(req, url.pathname, res);
  }

  const server = createServer((req, res) => void handle(req, res).catch((e) => fail(req, res, e, log)));
  const port = options.port ?? 8080;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => reject(new Sam3Error("BAD_OPTION", `cannot listen on ${host}:${port}: ${LISTEN_FAILURES[e.code ?? ""] ?? e.code ?? "refused"}`)));
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    // nothing will serve: the model that started loading is released
    await store.clear();
    await loading.then(([sam, predictor]) => Promise.all([sam.close(), predictor.close()]), () => undefined);
    throw e;
  }
  const address = server.address() as { port: number };
  const gate = new Gate({ host, port: address.port, token, allowedHosts: options.allowedHosts });
  return {
    server,
    url: `http://${bracketed(host)}:${address.port}/${token ? `?token=${token}` : ""}`,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await store.clear();
      const [sam, predictor] = await loading.catch(() => [] as unknown as [Sam3, Sam3VideoPredictor]);
      await Promise.all([sam?.close(), predictor?.close()]);
    },
  };
}

/**
 * What the loaded pack can do (in words too), and for each thing it cannot the message a request for it is
 * answered with: the page disables those controls and says why in their tooltips.
 */
function capabilityReport(sam: Sam3) {
  const unavailable: Partial<Record<Capability, string>> = {};
  for (const capability of Object.keys(CAPABILITY_LABELS) as Capability[]) {
    const why = sam.missing(capability);
    if (why) unavailable[capability] = hidePaths(why);
  }
  return { capabilities: sam.capabilities, can: describeCapabilities(sam.capabilities), unavailable };
}

function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? "/", "http://ui");
  } catch {
    throw new WebError(400, "BAD_REQUEST", "the request URL cannot be read");
  }
}

function emptyBody(body: unknown): void {
  if (typeof body !== "object" || body === null || Array.isArray(body) || Object.keys(body).length) {
    throw new WebError(400, "BAD_REQUEST", "this request takes an empty JSON object {}");
  }
}

function videoOnly(media: Media): VideoMedia {
  if (media.kind !== "video") throw new WebError(400, "BAD_REQUEST", "only a video can do that");
  return media;
}

function serveStatic(req: IncomingMessage, path: string, res: ServerResponse) {
  const file = PAGE_FILES.get(path);
  if (req.method !== "GET" && req.method !== "HEAD") throw new WebError(405, "BAD_REQUEST", `${req.method} is not served here`);
  if (!file) return void res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  res.writeHead(200, { "content-type": TYPES[extname(file)], "cache-control": "no-cache" });
  if (req.method === "HEAD") return void res.end();
  createReadStream(file).pipe(res);
}
