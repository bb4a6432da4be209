/**
 * Rewrites ONNX files the way other exporters lay them out: tensor names renamed, and optionally every initializer's
 * bytes moved to an external `.onnx_data` file. A tiny protobuf reader / writer, enough for ModelProto.
 */

type Field = { num: number; wire: number; value: number | bigint | Buffer };

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++];
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [value, pos];
    shift += 7n;
  }
}

function writeVarint(value: bigint): Buffer {
  const bytes: number[] = [];
  do {
    let b = Number(value & 0x7fn);
    value >>= 7n;
    if (value) b |= 0x80;
    bytes.push(b);
  } while (value);
  return Buffer.from(bytes);
}

function decode(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    const num = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, next] = readVarint(buf, afterKey);
      fields.push({ num, wire, value: v });
      pos = next;
    } else if (wire === 2) {
      const [len, body] = readVarint(buf, afterKey);
      fields.push({ num, wire, value: buf.subarray(body, body + Number(len)) });
      pos = body + Number(len);
    } else {
      const size = wire === 1 ? 8 : 4;
      fields.push({ num, wire, value: buf.subarray(afterKey, afterKey + size) });
      pos = afterKey + size;
    }
  }
  return fields;
}

function encode(fields: Field[]): Buffer {
  return Buffer.concat(
    fields.flatMap(({ num, wire, value }) => {
      const key = writeVarint(BigInt((num << 3) | wire));
      if (wire === 0) return [key, writeVarint(value as bigint)];
      if (wire === 2) return [key, writeVarint(BigInt((value as Buffer).length)), value as Buffer];
      return [key, value as Buffer];
    }),
  );
}

const str = (s: string): Field["value"] => Buffer.from(s, "utf8");
const map = (fields: Field[], num: number, f: (b: Buffer) => Buffer) =>
  fields.map((x) => (x.num === num && x.wire === 2 ? { ...x, value: f(x.value as Buffer) } : x));

interface Rewrite {
  rename: (name: string) => string;
  /** Where initializer bytes go, when external data is wanted. */
  external?: { location: string; chunks: Buffer[]; offset: number; minBytes: number };
}

function rewriteString(b: Buffer, r: Rewrite): Buffer {
  return Buffer.from(r.rename(b.toString("utf8")), "utf8");
}

function rewriteValueInfo(b: Buffer, r: Rewrite) {
  return encode(map(decode(b), 1, (n) => rewriteString(n, r)));
}

function rewriteTensor(b: Buffer, r: Rewrite): Buffer {
  let fields = map(decode(b), 8, (n) => rewriteString(n, r));
  const raw = fields.find((f) => f.num === 9);
  if (r.external && raw && (raw.value as Buffer).length >= Math.max(1, r.external.minBytes)) {
    const data = raw.value as Buffer;
    const entry = (key: string, value: string) => ({ num: 13, wire: 2, value: encode([{ num: 1, wire: 2, value: str(key) }, { num: 2, wire: 2, value: str(value) }]) });
    fields = fields.filter((f) => f.num !== 9);
    fields.push(entry("location", r.external.location), entry("offset", String(r.external.offset)), entry("length", String(data.length)));
    fields.push({ num: 14, wire: 0, value: 1n });
    r.external.chunks.push(data);
    r.external.offset += data.length;
  }
  return encode(fields);
}

function rewriteAttribute(b: Buffer, r: Rewrite): Buffer {
  return encode(map(map(decode(b), 6, (g) => rewriteGraph(g, r)), 11, (g) => rewriteGraph(g, r)));
}

function rewriteNode(b: Buffer, r: Rewrite): Buffer {
  let fields = decode(b);
  for (const num of [1, 2]) fields = map(fields, num, (n) => rewriteString(n, r));
  return encode(map(fields, 5, (a) => rewriteAttribute(a, r)));
}

function rewriteGraph(b: Buffer, r: Rewrite): Buffer {
  let fields = decode(b);
  fields = map(fields, 1, (n) => rewriteNode(n, r));
  fields = map(fields, 5, (t) => rewriteTensor(t, r));
  for (const num of [11, 12, 13]) fields = map(fields, num, (v) => rewriteValueInfo(v, r));
  return encode(fields);
}

/**
 * The model with its tensors renamed, and with external data when `dataFile` names the weights file (relative to the
 * model): tensors under `minBytes` stay inline, as onnx's own exporters leave them (1024 bytes by default).
 */
export function rewriteOnnx(model: Buffer, renames: Record<string, string>, dataFile?: string, minBytes = 1024): { model: Buffer; data?: Buffer } {
  const external = dataFile ? { location: dataFile, chunks: [] as Buffer[], offset: 0, minBytes } : undefined;
  const r: Rewrite = { rename: (n) => renames[n] ?? n, external };
  const out = encode(map(decode(model), 7, (g) => rewriteGraph(g, r)));
  return { model: out, data: external && Buffer.concat(external.chunks) };
}

/**
 * The model with one graph input declared as another element type (onnx.proto TensorProto.DataType, e.g. 2 =
 * uint8): what another exporter's graph would declare, for checks made before anything runs.
 */
export function retypeInput(model: Buffer, input: string, elemType: number): Buffer {
  const retype = (info: Buffer) => {
    const fields = decode(info);
    if ((fields.find((f) => f.num === 1)?.value as Buffer | undefined)?.toString("utf8") !== input) return info;
    const tensor = (t: Buffer) => encode(decode(t).map((f) => (f.num === 1 && f.wire === 0 ? { ...f, value: BigInt(elemType) } : f)));
    return encode(map(fields, 2, (type) => encode(map(decode(type), 1, tensor))));
  };
  return encode(map(decode(model), 7, (g) => encode(map(decode(g), 11, retype))));
}
