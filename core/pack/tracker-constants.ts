import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { Sam3Error } from "../errors";
import type { ConstantsSpec } from "./manifest";
import type { ModelPack } from "./open";
import { packError, packFile, shownName, shownPath } from "./pack-file";
import type { TrackerConstantName } from "./roles";

// bounds far above a real model's constants (under 1 MB at full size): beyond them an index is broken or hostile
const MAX_INDEX_BYTES = 1 << 20;
const MAX_DATA_BYTES = 64 << 20;
const MAX_TENSORS = 64;
const MAX_RANK = 8;
const MAX_CONFIG_ENTRIES = 64;

const boundedRecord = <T extends z.ZodTypeAny>(value: T, max: number, what: string) =>
  z
    .record(z.string().regex(/^[\w.:/-]{1,128}$/, "a name of at most 128 letters, digits and . _ : / -"), value)
    .refine((r) => Object.keys(r).length <= max, { message: `more than ${max} ${what}` });

const indexSchema = z.object({
  dtype: z.literal("float32"),
  byteOrder: z.literal("little"),
  /** The data file, beside the index. */
  file: z.string().regex(/^(?!\.+$)[\w.-]{1,128}$/, "a plain file name beside the index"),
  tensors: boundedRecord(
    z.object({
      shape: z.array(z.number().int().min(0).max(MAX_DATA_BYTES / 4)).max(MAX_RANK),
      /** Bytes from the start of the data file. */
      offset: z.number().int().min(0).max(MAX_DATA_BYTES),
      length: z.number().int().min(0).max(MAX_DATA_BYTES),
    }),
    MAX_TENSORS,
    "tensors",
  ),
  /** The video model's settings the tracker needs around the memory graphs (num_maskmem, ...). */
  config: boundedRecord(z.union([z.number().finite(), z.boolean()]), MAX_CONFIG_ENTRIES, "config entries").default({}),
});

type ConstantsIndex = z.infer<typeof indexSchema>;

/** The video tracker's constants (float32, by logical name) and the settings that go with them. */
export interface TrackerConstants {
  tensors: Partial<Record<TrackerConstantName, { shape: number[]; data: Float32Array }>>;
  config: Record<string, number | boolean>;
}

/**
 * Checks the trackerConstants entry of a manifest: the index and its data file inside the pack, the index within
 * its bounds, float32 little-endian, each tensor's length its shape's element count x 4 and inside the data file,
 * and every tensor the manifest maps present. Returns the index and the entry naming both files by their real paths
 * in the pack.
 */
export function checkTrackerConstants(dir: string, ref: string, spec: ConstantsSpec): { spec: ConstantsSpec; index: ConstantsIndex } {
  const where = `trackerConstants (${spec.file})`;
  const file = packFile(dir, ref, spec.file, `${where}: file`);
  const listed = spec.data.map((f) => packFile(dir, ref, f, `${where}: file`));
  if (statSync(join(dir, file)).size > MAX_INDEX_BYTES) throw packError(ref, `${where}: the index is over ${MAX_INDEX_BYTES >> 20} MiB, which is no constants index`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, file), "utf8"));
  } catch {
    // the parser's message quotes the text around the error: it is not repeated
    throw packError(ref, `${where}: the index is not valid JSON`);
  }
  const parsed = indexSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw packError(ref, `${where}: invalid index: ${shownPath(issue.path.map(String)) || "the whole file"}: ${issue.message}`);
  }
  const index = parsed.data;
  const data = packFile(dir, ref, join(dirname(file), index.file), `${where}: data file`);
  if (listed.length && !listed.includes(data)) throw packError(ref, `${where}: the index's data file "${index.file}" is not the one the manifest lists`);
  const size = statSync(join(dir, data)).size;
  if (size > MAX_DATA_BYTES) throw packError(ref, `${where}: the data file ${data} is over ${MAX_DATA_BYTES >> 20} MiB`);
  for (const [name, t] of Object.entries(index.tensors)) {
    const elements = t.shape.reduce((n, d) => n * d, 1);
    if (elements * 4 !== t.length) {
      throw packError(ref, `${where}: tensor ${shownName(name)} has shape [${t.shape.join(", ")}] (${elements} floats, ${elements * 4} bytes) but a length of ${t.length} bytes`);
    }
    if (t.offset + t.length > size) {
      throw packError(ref, `${where}: tensor ${shownName(name)} (bytes ${t.offset}..${t.offset + t.length}) runs past the end of ${data} (${size} bytes)`);
    }
  }
  for (const [key, name] of Object.entries(spec.outputs)) {
    if (!Object.hasOwn(index.tensors, name)) throw packError(ref, `${where}: the manifest maps ${key} to tensor ${shownName(name)}, which the index does not hold`);
  }
  return { spec: { ...spec, file, data: [data] }, index };
}

/** The pack's tracker constants, read and checked again now (the files may have changed since the pack was opened). */
export function readTrackerConstants(pack: ModelPack): TrackerConstants {
  const { dir, manifest } = pack;
  const spec = manifest.roles.trackerConstants;
  if (!spec) throw new Sam3Error("PACK_INVALID", `model pack ${manifest.name} has no trackerConstants`);
  const { index, spec: checked } = checkTrackerConstants(dir, manifest.name, spec);
  const wanted = Object.values(spec.outputs).map((name) => index.tensors[name]);
  const bytes = readPrefix(join(dir, checked.data[0]), Math.max(0, ...wanted.map((t) => t.offset + t.length)));
  if (!bytes) throw new Sam3Error("PACK_INVALID", `model pack ${manifest.name}: trackerConstants: ${checked.data[0]} is shorter than its index says`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors: TrackerConstants["tensors"] = {};
  for (const [key, name] of Object.entries(spec.outputs) as [TrackerConstantName, string][]) {
    const { shape, offset, length } = index.tensors[name];
    // read value by value: the data file is little-endian whatever this machine is, and offsets need no alignment
    const values = new Float32Array(length / 4);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(offset + 4 * i, true);
    tensors[key] = { shape, data: values };
  }
  return { tensors, config: index.config };
}

/** The first `bytes` bytes of a file, or undefined when it is shorter. */
function readPrefix(path: string, bytes: number): Buffer | undefined {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync(path, "r");
  try {
    let read = 0;
    while (read < bytes) {
      const n = readSync(fd, buffer, read, bytes - read, read);
      if (n === 0) return undefined;
      read += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}
