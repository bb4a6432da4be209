import type { IncomingMessage } from "node:http";
import sharp from "sharp";
import { decodeImage, ImageSession, isSam3Error, LIMITS, type SessionInfo } from "../core";
import { readBody, WebError } from "./http";
import type { ImageMedia, MediaStore, VideoMedia } from "./media-store";
import type { UiModels } from "./models";
import { looksLikeImage, uploadName, videoFileName } from "./upload-kind";

// uploads being read at once, server-wide: each is held in memory up to the upload limit
const CONCURRENT_UPLOADS = 4;

/** What the page learns of an upload. */
export interface UploadReply {
  id: string;
  kind: "image" | "video";
  width: number;
  height: number;
  frames: number;
  fps?: number;
}

/** Receives uploads within the limits: one at a time per client, a few at a time in all. */
export class Uploads {
  private readonly uploading = new Set<string>();

  constructor(private readonly store: MediaStore, private readonly models: UiModels, private readonly maxBytes: number) {}

  /** An upload: read within the limits, then an image (or BAD_IMAGE) by its first bytes, else a video session. */
  async receive(req: IncomingMessage, client: string): Promise<UploadReply> {
    if (this.uploading.has(client)) throw new WebError(429, "LIMIT_EXCEEDED", "your previous upload is still being received: wait for it to finish");
    if (this.uploading.size >= CONCURRENT_UPLOADS) throw new WebError(429, "LIMIT_EXCEEDED", "the server is receiving other uploads: try again in a moment");
    this.uploading.add(client);
    try {
      const bytes = await readBody(req, this.maxBytes, "the file");
      const name = uploadName(req.headers["x-file-name"]);
      if (!bytes.length) throw new WebError(400, "BAD_REQUEST", `${name} is empty`);
      return looksLikeImage(bytes) ? await this.image(bytes, name, client) : await this.video(bytes, name, client);
    } finally {
      this.uploading.delete(client);
    }
  }

  private async image(bytes: Buffer, name: string, client: string): Promise<UploadReply> {
    const sam = await this.models.sam();
    const unreadable = (e: unknown) => new WebError(400, "BAD_IMAGE", `${name} is not a readable image: ${isSam3Error(e) ? e.message.replace(/^cannot decode image: /, "") : "the file is truncated or corrupt"}`);
    // the header's size is reserved against the quota before the pixels are decoded
    const { width = 0, height = 0 } = await sharp(bytes, { limitInputPixels: false }).metadata().catch((e) => { throw unreadable(e); });
    if (width * height > LIMITS.pixels) throw new WebError(400, "BAD_IMAGE", `${name} is ${width}x${height}, over the limit of ${LIMITS.pixels.toLocaleString("en")} pixels`);
    const media = await this.store.add<ImageMedia>(client, "image", width * height * 3, async () => {
      const image = await decodeImage(bytes, LIMITS.pixels).catch((e) => { throw unreadable(e); });
      return { kind: "image", session: new ImageSession(sam, image) };
    });
    const { image } = media.session;
    return { id: media.id, kind: "image", width: image.width, height: image.height, frames: 1 };
  }

  private async video(bytes: Buffer, name: string, client: string): Promise<UploadReply> {
    const predictor = await this.models.video();
    let info: SessionInfo | undefined;
    const media = await this.store.add<VideoMedia>(client, "video", bytes.length, async () => {
      info = await predictor.startSessionFromBytes(bytes, videoFileName(name)).catch((e) => {
        throw isSam3Error(e) && e.code === "BAD_VIDEO" ? new WebError(415, "BAD_VIDEO", `${name} is neither an image nor a video this server can read`) : e;
      });
      return { kind: "video", sessionId: info.session_id };
    });
    const { width, height, frames, fps } = info!;
    return { id: media.id, kind: "video", width, height, frames, fps };
  }
}
