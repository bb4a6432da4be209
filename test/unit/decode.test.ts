import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { decodeImage, type RgbImage } from "../../core/image/decode";

/** Real sharp, real files: every input is generated here, in a temp dir removed afterwards. */

let dir: string;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sam3-decode-"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A small RGB image whose every pixel differs (so a transposed, flipped or shifted decode cannot match). */
function pattern(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 37 + 11) % 256;
      data[i + 1] = (y * 53 + 7) % 256;
      data[i + 2] = (x * 11 + y * 29 + 101) % 256;
    }
  }
  return data;
}

const raw = (data: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4) => sharp(data, { raw: { width, height, channels } });

const pixel = (img: RgbImage, x: number, y: number): [number, number, number] => {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
};

function expectClose(actual: number[], expected: number[], tolerance: number) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]), `channel ${i}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
}

/** Awaits a rejected decode and returns its Sam3Error, failing if it resolved or threw something else. */
async function decodeError(input: Parameters<typeof decodeImage>[0], maxPixels?: number): Promise<Sam3Error> {
  const error = await decodeImage(input, maxPixels).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "decodeImage should have rejected").toBeInstanceOf(Sam3Error);
  expect((error as Sam3Error).code).toBe("BAD_IMAGE");
  expect((error as Sam3Error).message.length).toBeGreaterThan(10);
  return error as Sam3Error;
}

describe("decodeImage: formats", () => {
  const W = 12;
  const H = 7;
  const source = pattern(W, H);

  it.each([
    ["png", (s: sharp.Sharp) => s.png()],
    ["webp", (s: sharp.Sharp) => s.webp({ lossless: true })],
    ["tiff", (s: sharp.Sharp) => s.tiff({ compression: "lzw" })],
  ] as const)("decodes lossless %s exactly, as packed 8-bit RGB", async (ext, encode) => {
    const path = file(`pattern.${ext}`);
    await encode(raw(source, W, H, 3)).toFile(path);
    expect((await sharp(path).metadata()).format).toBe(ext);

    const img = await decodeImage(path);
    expect(img.width).toBe(W);
    expect(img.height).toBe(H);
    expect(img.data).toBeInstanceOf(Buffer);
    expect(img.data.length).toBe(W * H * 3);
    expect(Buffer.compare(img.data, source)).toBe(0);
    expect(img.key).toMatch(/^[0-9a-f]{40}$/);
  });

  it("decodes JPEG (lossy) to the right size and colours", async () => {
    // 32x16: left half red, right half blue; sample block centres, away from the chroma-subsampled edge
    const w = 32;
    const h = 16;
    const data = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(x < w / 2 ? [230, 20, 20] : [20, 20, 230], (y * w + x) * 3);
    const path = file("halves.jpg");
    await raw(data, w, h, 3).jpeg({ quality: 95 }).toFile(path);
    expect((await sharp(path).metadata()).format).toBe("jpeg");

    const img = await decodeImage(path);
    expect([img.width, img.height, img.data.length]).toEqual([w, h, w * h * 3]);
    expectClose(pixel(img, 4, 8), [230, 20, 20], 16);
    expectClose(pixel(img, 27, 8), [20, 20, 230], 16);
  });

  it("takes the first frame of an animated GIF", async () => {
    const w = 8;
    const h = 6;
    const frames = Buffer.alloc(w * h * 2 * 4);
    for (let i = 0; i < w * h * 2; i++) frames.set(i < w * h ? [255, 0, 0, 255] : [0, 0, 255, 255], i * 4);
    const gif = await sharp(frames, { raw: { width: w, height: h * 2, channels: 4, pageHeight: h } } as sharp.SharpOptions)
      .gif({ delay: [100, 100] })
      .toBuffer();
    const meta = await sharp(gif).metadata();
    expect(meta.format).toBe("gif");
    expect(meta.pages).toBe(2); // really animated, or the test proves nothing

    const img = await decodeImage(gif);
    expect([img.width, img.height]).toEqual([w, h]); // one frame, not the stacked pages
    for (const [x, y] of [[0, 0], [w - 1, h - 1], [3, 2]]) expect(pixel(img, x, y)).toEqual([255, 0, 0]);
  });

  it("widens a greyscale PNG to three equal channels", async () => {
    const w = 5;
    const h = 3;
    const grey = Buffer.from(Array.from({ length: w * h }, (_, i) => (i * 17 + 3) % 256));
    const png = await raw(grey, w, h, 1).toColourspace("b-w").png().toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(1); // really a one-channel file

    const img = await decodeImage(png);
    expect([img.width, img.height, img.data.length]).toEqual([w, h, w * h * 3]);
    for (let i = 0; i < w * h; i++) expect([...img.data.subarray(i * 3, i * 3 + 3)]).toEqual([grey[i], grey[i], grey[i]]);
  });

  it("drops alpha from an RGBA PNG and keeps the colour", async () => {
    const w = 4;
    const h = 2;
    const rgba = Buffer.alloc(w * h * 4);
    const rgb = pattern(w, h);
    for (let i = 0; i < w * h; i++) rgba.set([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], i % 2 ? 0 : 128], i * 4);
    const png = await raw(rgba, w, h, 4).png().toBuffer();
    expect((await sharp(png).metadata()).hasAlpha).toBe(true);

    const img = await decodeImage(png);
    expect(img.data.length).toBe(w * h * 3);
    expect(Buffer.compare(img.data, rgb)).toBe(0); // not premultiplied, not flattened onto a background
  });

  it("scales a 16-bit PNG to 8 bits (not clipped)", async () => {
    const w = 4;
    const h = 1;
    const values16 = [0, 257 * 100, 32768, 65535];
    const px = new Uint16Array(w * h * 3);
    for (let i = 0; i < w; i++) px.set([values16[i], values16[(i + 1) % 4], values16[(i + 2) % 4]], i * 3);
    // a Uint16Array (not a Buffer) tells sharp the raw samples are 16-bit
    const png = await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .toColourspace("rgb16")
      .png()
      .toBuffer();
    const meta = await sharp(png).metadata();
    expect([meta.depth, meta.bitsPerSample]).toEqual(["ushort", 16]);

    const img = await decodeImage(png);
    const expected8 = [0, 100, 128, 255];
    const want = Array.from({ length: w }, (_, i) => [expected8[i], expected8[(i + 1) % 4], expected8[(i + 2) % 4]]).flat();
    expectClose([...img.data], want, 1);
  });

  it("applies EXIF orientation 6: width and height swap and pixels come out upright", async () => {
    // 40x20 stored, left half red, right half white; orientation 6 = rotate 90 degrees clockwise to display
    const w = 40;
    const h = 20;
    const data = Buffer.alloc(w * h * 3, 255);
    for (let y = 0; y < h; y++) for (let x = 0; x < w / 2; x++) data.set([255, 0, 0], (y * w + x) * 3);
    const path = file("rotated.jpg");
    await raw(data, w, h, 3).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(path);
    const meta = await sharp(path).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([40, 20, 6]);

    const img = await decodeImage(path);
    expect([img.width, img.height]).toEqual([20, 40]);
    // the stored left half (red) is the displayed top half
    const isRed = ([r, g, b]: number[]) => r > 200 && g < 60 && b < 60;
    const isWhite = ([r, g, b]: number[]) => r > 200 && g > 200 && b > 200;
    for (const x of [2, 10, 17]) {
      for (const y of [2, 10, 16]) expect(isRed(pixel(img, x, y)), `(${x},${y}) red`).toBe(true);
      for (const y of [23, 30, 37]) expect(isWhite(pixel(img, x, y)), `(${x},${y}) white`).toBe(true);
    }
  });
});

describe("decodeImage: inputs and keys", () => {
  it("gives the same pixels and key for a path, a Buffer and a Uint8Array", async () => {
    const path = file("same.png");
    await raw(pattern(9, 5), 9, 5, 3).png().toFile(path);
    const bytes = await readFile(path);
    // a Uint8Array view at an offset inside a larger ArrayBuffer: only the view's bytes may count
    const backing = new Uint8Array(bytes.length + 64);
    backing.set(bytes, 32);
    const view = backing.subarray(32, 32 + bytes.length);

    const fromPath = await decodeImage(path);
    const fromBuffer = await decodeImage(bytes);
    const fromView = await decodeImage(view);
    for (const other of [fromBuffer, fromView]) {
      expect([other.width, other.height]).toEqual([fromPath.width, fromPath.height]);
      expect(Buffer.compare(other.data, fromPath.data)).toBe(0);
      expect(other.key).toBe(fromPath.key);
    }
  });

  it("gives different keys for different content, and the same key for the same content", async () => {
    const a = pattern(9, 5);
    const b = Buffer.from(a);
    b[0] ^= 0xff; // one pixel differs
    const pngA = await raw(a, 9, 5, 3).png().toBuffer();
    const pngB = await raw(b, 9, 5, 3).png().toBuffer();
    const [ka, ka2, kb] = await Promise.all([decodeImage(pngA), decodeImage(Buffer.from(pngA)), decodeImage(pngB)]);
    expect(ka.key).toBe(ka2.key);
    expect(kb.key).not.toBe(ka.key);
  });
});

describe("decodeImage: bad input is a BAD_IMAGE Sam3Error", () => {
  it("missing file says not found and names the file", async () => {
    const path = file("does-not-exist.png");
    const e = await decodeError(path);
    expect(e.message).toMatch(/not found/i);
    expect(e.message).toContain(path);
  });

  it("0-byte file says it is empty", async () => {
    const path = file("empty.png");
    await writeFile(path, Buffer.alloc(0));
    const e = await decodeError(path);
    expect(e.message).toMatch(/empty|0 bytes/i);
    expect(e.message).toContain(path);
    expect((await decodeError(new Uint8Array(0))).message).toMatch(/empty|0 bytes/i);
  });

  it("random bytes say the format cannot be read", async () => {
    const path = file("noise.png");
    // a fixed first byte that starts no known signature
    await writeFile(path, Buffer.concat([Buffer.from("xx"), randomBytes(4096)]));
    const e = await decodeError(path);
    expect(e.message).toMatch(/cannot decode/i);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/format/i);
  });

  it("a truncated PNG (first half of a real one) is refused", async () => {
    const png = await raw(pattern(64, 64), 64, 64, 3).png({ compressionLevel: 0 }).toBuffer();
    await expect(decodeImage(png)).resolves.toMatchObject({ width: 64, height: 64 }); // the whole file is fine
    const path = file("truncated.png");
    await writeFile(path, png.subarray(0, png.length >> 1));
    const e = await decodeError(path);
    expect(e.message).toMatch(/cannot decode/i);
    expect(e.message).toContain(path);
  });

  it("an image over maxPixels is refused with the limit in the message; at the limit it is accepted", async () => {
    const png = await raw(pattern(64, 64), 64, 64, 3).png().toBuffer();
    await expect(decodeImage(png, 64 * 64)).resolves.toMatchObject({ width: 64, height: 64 });
    const e = await decodeError(png, 64 * 64 - 1);
    expect(e.message).toMatch(/limit/i);
    expect(e.message).toContain((64 * 64 - 1).toLocaleString("en")); // "4,095"
  });
});
