import { randomUUID } from "node:crypto";
import type { RgbImage } from "../core/image/decode";
import type { SegmentResult } from "../core/sam3";

export interface ImageMedia {
  kind: "image";
  id: string;
  image: RgbImage;
  /** The last segmentation, for the image exports. */
  last?: { result: SegmentResult; labels: Map<number, string> };
}

export interface VideoMedia {
  kind: "video";
  id: string;
  sessionId: string;
}

export type Media = ImageMedia | VideoMedia;

/** The uploads of this UI server, newest kept: an old one is dropped (and its video session closed) past the cap. */
export class MediaStore {
  private readonly items = new Map<string, Media>();
  constructor(private readonly capacity: number, private readonly onDrop: (media: Media) => Promise<void>) {}

  async add(make: (id: string) => Media): Promise<Media> {
    const media = make(randomUUID());
    this.items.set(media.id, media);
    while (this.items.size > this.capacity) {
      const [oldest] = this.items.values();
      this.items.delete(oldest.id);
      await this.onDrop(oldest);
    }
    return media;
  }

  get(id: string): Media | undefined {
    return this.items.get(id);
  }

  async clear(): Promise<void> {
    for (const media of this.items.values()) await this.onDrop(media);
    this.items.clear();
  }
}
