import sharp from "sharp";
import type { RgbImage } from "../image/decode";
import type { Box, Mask } from "../masks/mask";
import { objectColour, toHex } from "./palette";

export interface OverlayObject {
  id: number;
  score: number;
  box: Box;
  mask: Mask;
  /** Shown before the id, e.g. the text prompt. */
  label?: string;
}

export interface OverlayOptions {
  /** Opacity of the mask fill (0..1). */
  alpha?: number;
  /** Draw "id score" tags at each object's box. */
  labels?: boolean;
}

/** The image with each object's mask tinted in its own colour, outlined, and tagged with its id and score, as PNG. */
export async function renderOverlay(image: RgbImage, objects: OverlayObject[], options: OverlayOptions = {}): Promise<Buffer> {
  const rgb = await renderOverlayRgb(image, objects, options);
  return sharp(rgb, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}

/** The same overlay as raw RGB bytes (for video frames). */
export async function renderOverlayRgb(image: RgbImage, objects: OverlayObject[], options: OverlayOptions = {}): Promise<Buffer> {
  const { width, height } = image;
  const alpha = options.alpha ?? 0.5;
  const pixels = Buffer.from(image.data);
  for (const object of objects) paintMask(pixels, object.mask, objectColour(object.id), alpha);
  if (options.labels === false || objects.length === 0) return pixels;
  const tagged = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(labelsSvg(objects, width, height)) }])
    .removeAlpha()
    .raw()
    .toBuffer();
  return tagged;
}

function paintMask(pixels: Buffer, mask: Mask, colour: [number, number, number], alpha: number) {
  const { width, height, data } = mask;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!data[i]) continue;
      // boundary pixels are drawn solid so touching objects stay distinguishable
      const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !data[i - 1] || !data[i + 1] || !data[i - width] || !data[i + width];
      const a = edge ? 1 : alpha;
      for (let c = 0; c < 3; c++) pixels[i * 3 + c] = Math.round(pixels[i * 3 + c] * (1 - a) + colour[c] * a);
    }
  }
}

function labelsSvg(objects: OverlayObject[], width: number, height: number): string {
  const size = Math.max(11, Math.round(Math.min(width, height) / 40));
  const placed: { x: number; y: number; w: number; h: number }[] = [];
  const tags = objects.map((o) => {
    const text = `${o.label ? escapeXml(o.label) + " " : ""}#${o.id} ${o.score.toFixed(2)}`;
    const w = Math.ceil(text.length * size * 0.62) + 6;
    const h = size + 6;
    const x = Math.min(Math.max(0, Math.round(o.box[0])), Math.max(0, width - w));
    let y = Math.min(Math.max(0, Math.round(o.box[1]) - h), Math.max(0, height - h));
    // objects with nearby boxes would stack their tags on one spot: move down until free
    while (placed.some((p) => x < p.x + p.w && p.x < x + w && y < p.y + p.h && p.y < y + h) && y + h < height) y += h;
    placed.push({ x, y, w, h });
    const colour = objectColour(o.id);
    return `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="${toHex(colour)}"/>` +
      `<text x="${x + 3}" y="${y + size}" font-family="DejaVu Sans Mono, monospace" font-size="${size}" fill="${readableOn(colour)}">${text}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${tags.join("")}</svg>`;
}

/** Black or white, whichever reads better on the tag's colour. */
const readableOn = ([r, g, b]: [number, number, number]) => (0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#000" : "#fff");

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
