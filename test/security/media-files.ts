// Hostile media written at test time: no fixture in the repository, every byte made here.

/**
 * A valid baseline JPEG of one flat grey, any size up to 65535 square, in 1.5 bytes per 256 pixels: one-symbol
 * Huffman tables make every 8x8 block "no change, end of block", two zero bits, so the scan is all zero bytes.
 */
export function flatJpeg(width: number, height: number): Buffer {
  const segment = (marker: number, body: number[] | Buffer) => Buffer.concat([Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255]), Buffer.from(body)]);
  const quant = segment(0xdb, [0, ...new Array(64).fill(1)]);
  const frame = segment(0xc0, [8, height >> 8, height & 255, width >> 8, width & 255, 3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0]);
  // one code of length 1 for symbol 0: DC "difference 0" and AC "end of block"
  const table = (kind: number) => segment(0xc4, [kind, 1, ...new Array(15).fill(0), 0]);
  const scan = segment(0xda, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]);
  const mcus = Math.ceil(width / 16) * Math.ceil(height / 16);
  const data = Buffer.alloc(Math.ceil((mcus * 6 * 2) / 8));
  return Buffer.concat([Buffer.from([0xff, 0xd8]), quant, frame, table(0x00), table(0x10), scan, data, Buffer.from([0xff, 0xd9])]);
}

/** An AVI (RIFF) holding the given JPEGs as MJPEG frames at `fps`; its headers may claim another frame count. */
export function mjpegAvi(frames: Buffer[], width: number, height: number, fps = 10, claimedFrames = frames.length): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const u16 = (n: number) => Buffer.from([n & 255, n >> 8]);
  const chunk = (id: string, body: Buffer) => Buffer.concat([Buffer.from(id, "latin1"), u32(body.length), body, Buffer.alloc(body.length & 1)]);
  const list = (kind: string, ...parts: Buffer[]) => chunk("LIST", Buffer.concat([Buffer.from(kind, "latin1"), ...parts]));
  const largest = Math.max(...frames.map((f) => f.length));
  const avih = chunk("avih", Buffer.concat([u32(Math.round(1e6 / fps)), u32(0), u32(0), u32(0x10), u32(claimedFrames), u32(0), u32(1), u32(largest), u32(width), u32(height), Buffer.alloc(16)]));
  const strh = chunk("strh", Buffer.concat([Buffer.from("vidsMJPG", "latin1"), u32(0), u16(0), u16(0), u32(0), u32(1), u32(fps), u32(0), u32(claimedFrames), u32(largest), u32(0xffffffff), u32(0), u16(0), u16(0), u16(width), u16(height)]));
  const strf = chunk("strf", Buffer.concat([u32(40), u32(width), u32(height), u16(1), u16(24), Buffer.from("MJPG", "latin1"), u32(width * height * 3), u32(0), u32(0), u32(0), u32(0)]));
  const movi = list("movi", ...frames.map((f) => chunk("00dc", f)));
  let offset = 4;
  const index = frames.map((f) => {
    const entry = Buffer.concat([Buffer.from("00dc", "latin1"), u32(0x10), u32(offset), u32(f.length)]);
    offset += 8 + f.length + (f.length & 1);
    return entry;
  });
  const body = Buffer.concat([Buffer.from("AVI ", "latin1"), list("hdrl", avih, list("strl", strh, strf)), movi, chunk("idx1", Buffer.concat(index))]);
  return chunk("RIFF", body);
}

/** An HLS playlist of one segment at `entry` (a path or URL, taken as written). */
export const hlsPlaylist = (entry: string) => `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\n${entry}\n#EXT-X-ENDLIST\n`;

/** An ffconcat list of one file. */
export const concatList = (entry: string) => `ffconcat version 1.0\nfile '${entry}'\n`;

// protobuf, enough to write the ONNX messages the tests need
const varint = (n: number): Buffer => {
  const bytes: number[] = [];
  do {
    bytes.push((n % 128) | (n >= 128 ? 128 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.from(bytes);
};
/** A length-delimited protobuf field. */
export const field = (number: number, body: Buffer | string) => {
  const bytes = Buffer.from(body);
  return Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
};

/**
 * A second ModelProto.graph field holding one initializer whose weights live in the external file `location`:
 * appended to a real graph, protobuf merges it into the graph onnxruntime loads.
 */
export const externalWeights = (location: string) =>
  field(7, field(5, Buffer.concat([field(8, "extra_weight"), field(13, Buffer.concat([field(1, "location"), field(2, location)]))])));

/** A ModelProto whose graph claims a tensor name 2^40 bytes long: a reader that trusts lengths allocates that. */
export const hugeNameGraph = () => Buffer.concat([varint(7 * 8 + 2), varint(32), varint(11 * 8 + 2), varint(30), varint(1 * 8 + 2), varint(2 ** 40), Buffer.alloc(23)]);
