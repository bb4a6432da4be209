import type { IncomingMessage, ServerResponse } from "node:http";
import sharp from "sharp";
import { exportImage, promptImage } from "./image-handlers";
import { json, readJson, send, WebError } from "./http";
import type { ImageMedia, Media, MediaStore, VideoMedia } from "./media-store";
import type { UiModels } from "./models";
import { frameNumber, objectNumber, parseCandidate, parseOptions, parsePrompt } from "./requests";
import type { Uploads } from "./uploads";
import { cancelVideo, clearVideo, exportVideo, promptVideo, propagateVideo, removeVideoObject, videoObjects } from "./video-handlers";

/** What a route handler gets: the exchange, the path's captured parts, and who asks. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  client: string;
}

export interface Route {
  method: string;
  path: RegExp;
  handle: (call: Call) => Promise<void>;
}

const UUID = "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})";
const media = (rest = "") => new RegExp(`^/api/media/${UUID}${rest}$`);
const OBJECT = "/objects/([^/]+)";
const EXPORTS = "(masks\\.jsonl|masks\\.zip|overlay\\.mp4|overlay\\.png|cutouts\\.zip)";

/** The JSON API of the page: each route finds the caller's upload and hands it to its image or video handler. */
export function routeTable(store: MediaStore, models: UiModels, uploads: Uploads): Route[] {
  const find = (client: string, id: string): Media => store.get(client, id) ?? (() => { throw gone(); })();
  const image = (client: string, id: string): ImageMedia => only(find(client, id), "image", "only an image can do that");
  const video = (client: string, id: string): VideoMedia => only(find(client, id), "video", "only a video can do that");
  const framesOf = async (m: Media) => (m.kind === "image" ? 1 : (await models.video()).info(m.sessionId).frames);

  return [
    { method: "GET", path: /^\/api\/info$/, handle: async ({ res }) => json(res, models.info()) },
    { method: "POST", path: /^\/api\/media$/, handle: async ({ req, res, client }) => json(res, await uploads.receive(req, client)) },
    { method: "DELETE", path: media(), handle: async ({ res, params: [id], client }) => {
      if (!(await store.remove(client, id))) throw gone();
      json(res, { closed: true });
    } },
    { method: "GET", path: media("/frames/([^/]+)"), handle: async ({ res, params: [id, n], client }) => {
      const m = find(client, id);
      const t = frameNumber(n, await framesOf(m));
      const frame = m.kind === "image" ? m.session.image : await (await models.video()).frameImage(m.sessionId, t);
      const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
      res.writeHead(200, { "content-type": "image/jpeg", "cache-control": "no-store" }).end(jpeg);
    } },
    { method: "GET", path: media("/frames/([^/]+)/objects"), handle: async ({ res, params: [id, n], client }) => {
      const m = find(client, id);
      const t = frameNumber(n, await framesOf(m));
      json(res, { objects: m.kind === "image" ? m.session.objects() : videoObjects(await models.video(), m, t) });
    } },
    { method: "POST", path: media("/segment"), handle: async ({ req, res, params: [id], client }) => {
      const m = find(client, id);
      const request = parsePrompt(await readJson(req));
      json(res, { objects: m.kind === "image" ? await promptImage(m, request) : await promptVideo(await models.video(), m, request) });
    } },
    { method: "POST", path: media("/options"), handle: async ({ req, res, params: [id], client }) => {
      const m = image(client, id);
      json(res, { objects: await m.session.setOptions(parseOptions(await readJson(req))) });
    } },
    { method: "POST", path: media("/propagate"), handle: async ({ req, res, params: [id], client }) => {
      const m = video(client, id);
      emptyBody(await readJson(req));
      await propagateVideo(await models.video(), m, req, res);
    } },
    { method: "POST", path: media("/cancel"), handle: async ({ req, res, params: [id], client }) => {
      const m = video(client, id);
      emptyBody(await readJson(req));
      json(res, { was_running: await cancelVideo(await models.video(), m) });
    } },
    { method: "DELETE", path: media("/objects"), handle: async ({ res, params: [id], client }) => {
      const m = find(client, id);
      if (m.kind === "image") await m.session.clear();
      else await clearVideo(await models.video(), m);
      json(res, { objects: [] });
    } },
    { method: "DELETE", path: media(OBJECT), handle: async ({ res, params: [id, obj], client }) => {
      const m = find(client, id);
      const objId = objectNumber(obj);
      json(res, { objects: m.kind === "image" ? (await m.session.remove(objId)).map((o) => o.id) : await removeVideoObject(await models.video(), m, objId) });
    } },
    { method: "POST", path: media(`${OBJECT}/candidate`), handle: async ({ req, res, params: [id, obj], client }) => {
      const m = image(client, id);
      const objId = objectNumber(obj);
      json(res, { objects: await m.session.choose(objId, parseCandidate(await readJson(req))) });
    } },
    { method: "POST", path: media(`${OBJECT}/undo`), handle: async ({ req, res, params: [id, obj], client }) => {
      const m = image(client, id);
      const objId = objectNumber(obj);
      emptyBody(await readJson(req));
      json(res, { objects: await m.session.undo(objId) });
    } },
    { method: "GET", path: media(`/export/${EXPORTS}`), handle: async ({ res, params: [id, file], client }) => {
      const m = find(client, id);
      const { type, data } = m.kind === "image" ? await exportImage(m, file) : await exportVideo(await models.video(), m, file);
      send(res, type, data, file);
    } },
  ];
}

const gone = () => new WebError(404, "UNKNOWN_SESSION", "this upload is no longer on the server: upload it again");

function only<K extends Media["kind"]>(m: Media, kind: K, why: string): Extract<Media, { kind: K }> {
  if (m.kind !== kind) throw new WebError(400, "BAD_REQUEST", why);
  return m as Extract<Media, { kind: K }>;
}

function emptyBody(body: unknown): void {
  if (typeof body !== "object" || body === null || Array.isArray(body) || Object.keys(body).length) {
    throw new WebError(400, "BAD_REQUEST", "this request takes an empty JSON object {}");
  }
}
