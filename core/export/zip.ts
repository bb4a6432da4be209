import { Sam3Error } from "../errors";

/** What a ZIP without its 64-bit extension can hold. */
const MAX_ENTRIES = 0xffff;
const MAX_BYTES = 0xffffffff;

/** A ZIP archive of stored (uncompressed) files: enough for downloading a folder of PNGs, which do not deflate. */
export function zipFiles(files: { name: string; data: Buffer }[]): Buffer {
  if (files.length > MAX_ENTRIES) throw new Sam3Error("LIMIT_EXCEEDED", `${files.length} files are more than a ZIP archive holds (${MAX_ENTRIES}): export fewer frames`);
  const total = files.reduce((n, f) => n + f.data.length + 76 + 2 * Buffer.byteLength(f.name), 22);
  if (total > MAX_BYTES) throw new Sam3Error("LIMIT_EXCEEDED", "the files are more than a ZIP archive holds (4 GiB): export fewer frames");
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of files) {
    const nameBytes = Buffer.from(name, "utf8");
    if (nameBytes.length > MAX_ENTRIES) throw new Sam3Error("BAD_REQUEST", "a file name in the ZIP archive is longer than 65535 bytes");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
