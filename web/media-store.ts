import { randomUUID } from "node:crypto";
import { formatBytes, type ImageSession } from "../core";
import { WebError } from "./http";

interface Held {
  id: string;
  /** The client that uploaded it: nobody else sees, uses or closes it. */
  owner: string;
  /** What it holds on the server: decoded pixels for an image, the file for a video. */
  bytes: number;
  lastUsed: number;
}

export interface ImageMedia extends Held {
  kind: "image";
  /** The image and the objects the user builds on it. */
  session: ImageSession;
}

export interface VideoMedia extends Held {
  kind: "video";
  sessionId: string;
}

export type Media = ImageMedia | VideoMedia;

export interface StoreLimits {
  /** Uploads one client may hold (images and videos). */
  uploadsPerClient: number;
  /** Video sessions one client may hold open. */
  videosPerClient: number;
  /** Bytes one client may hold (all its uploads together). */
  bytesPerClient: number;
  /** Uploads the whole server holds. */
  uploads: number;
  /** Videos the whole server holds open: the predictor's session limit, so a refusal is a quota (429), not a size. */
  videos: number;
  /** An upload unused this long is closed. */
  idleMs: number;
}

/**
 * The uploads of this UI server, each owned by the client that sent it. Quotas are per client and checked
 * (and reserved) before any work, so one client can neither evict another's uploads nor take every session.
 */
export class MediaStore {
  private readonly items = new Map<string, Media>();
  /** Uploads being decoded or opened, counted against their client's quota already. */
  private readonly pending = new Map<string, { owner: string; kind: Media["kind"]; bytes: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly limits: StoreLimits, private readonly onDrop: (media: Media) => Promise<void>) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(limits.idleMs, 60_000)).unref();
  }

  /** Reserves the quota, then makes the media; a failure gives the reservation back. */
  async add<M extends Media>(owner: string, kind: M["kind"], bytes: number, make: (id: string) => Promise<Omit<M, keyof Held>>): Promise<M> {
    this.reserve(owner, kind, bytes);
    const id = randomUUID();
    this.pending.set(id, { owner, kind, bytes });
    try {
      const media = { ...(await make(id)), id, owner, bytes, lastUsed: Date.now() } as M;
      this.items.set(id, media);
      return media;
    } finally {
      this.pending.delete(id);
    }
  }

  /** The caller's own upload; another client's is as unknown as a made-up id. */
  get(owner: string, id: string): Media | undefined {
    const media = this.items.get(id);
    if (!media || media.owner !== owner) return undefined;
    media.lastUsed = Date.now();
    return media;
  }

  async remove(owner: string, id: string): Promise<boolean> {
    const media = this.get(owner, id);
    if (!media) return false;
    this.items.delete(id);
    await this.onDrop(media);
    return true;
  }

  async clear(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.items.values()];
    this.items.clear();
    for (const media of all) await this.onDrop(media);
  }

  private reserve(owner: string, kind: Media["kind"], bytes: number) {
    const held = [...this.items.values(), ...this.pending.values()];
    const mine = held.filter((m) => m.owner === owner);
    const close = "close one of your uploads first (the page does when you upload another)";
    if (mine.length >= this.limits.uploadsPerClient) {
      throw new WebError(429, "LIMIT_EXCEEDED", `you have ${this.limits.uploadsPerClient} uploads open, the limit per client: ${close}`);
    }
    if (kind === "video" && mine.filter((m) => m.kind === "video").length >= this.limits.videosPerClient) {
      throw new WebError(429, "LIMIT_EXCEEDED", `you have ${this.limits.videosPerClient} videos open, the limit per client: ${close}`);
    }
    const used = mine.reduce((sum, m) => sum + m.bytes, 0);
    if (used + bytes > this.limits.bytesPerClient) {
      throw new WebError(429, "LIMIT_EXCEEDED", `your uploads would hold ${formatBytes(used + bytes)}, over the ${formatBytes(this.limits.bytesPerClient)} limit per client: ${close}`);
    }
    if (held.length >= this.limits.uploads) {
      throw new WebError(429, "LIMIT_EXCEEDED", `the server holds ${this.limits.uploads} uploads, its limit: try again when some are closed`);
    }
    if (kind === "video" && held.filter((m) => m.kind === "video").length >= this.limits.videos) {
      throw new WebError(429, "LIMIT_EXCEEDED", `the server has ${this.limits.videos} videos open, its limit: try again when some are closed`);
    }
  }

  private async sweep(now = Date.now()) {
    for (const media of [...this.items.values()]) {
      if (now - media.lastUsed <= this.limits.idleMs) continue;
      this.items.delete(media.id);
      await this.onDrop(media).catch(() => undefined);
    }
  }
}
