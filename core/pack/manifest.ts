import { z } from "zod";
import { LIMITS } from "../limits";
import { OPTIONAL_INPUTS, ROLES, TRACKER_CONSTANT_NAMES, type Role } from "./roles";

// bounds a real pack stays far inside: anything beyond is a broken or hostile manifest, refused before use
const MAX_IMAGE_SIZE = 4096;
const MAX_CONTEXT_LENGTH = 1024;
const MAX_DATA_FILES = 256;
const name = (max: number) => z.string().min(1).max(max);
const packPath = name(1024);

const tensorMap = z.record(z.string().max(256), name(256));
/** Another pack installed beside this one (its folder name in the same models folder) that holds the file. */
const siblingPack = z.string().regex(/^[A-Za-z0-9][\w.-]{0,127}$/, "a pack's folder name (letters, digits, . _ -)").optional();

const graphSchema = z.object({
  /** Path of the .onnx file, relative to the pack directory (or to `pack`'s). */
  file: packPath,
  pack: siblingPack,
  /** External weight files the graph needs beside it (e.g. `vision_encoder.onnx_data`). */
  data: z.array(packPath).max(MAX_DATA_FILES).default([]),
  /** Logical tensor name -> the graph's tensor name. */
  inputs: tensorMap,
  outputs: tensorMap,
});

/** Not a graph: the video tracker's constants, a JSON index (`file`) of the float32 data file it names (`data`). */
const constantsSchema = z.object({
  file: packPath,
  data: z.array(packPath).max(1).default([]),
  inputs: z.object({}).strict().default({}),
  /** Logical constant name -> tensor name in the index. */
  outputs: z.partialRecord(z.enum(TRACKER_CONSTANT_NAMES), name(256)),
});

export const manifestSchema = z.object({
  name: name(200),
  description: z.string().max(4000).default(""),
  /** Square input size S of both vision encoders. */
  imageSize: z.number().int().positive().max(MAX_IMAGE_SIZE),
  normalize: z
    .object({ mean: z.array(z.number().finite()).length(3), std: z.array(z.number().finite().positive()).length(3) })
    .default({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }),
  tokenizer: z.object({ file: packPath, pack: siblingPack, contextLength: z.number().int().min(2).max(MAX_CONTEXT_LENGTH).default(32) }),
  thresholds: z
    .object({
      detection: z.number().min(0).max(1).default(0.5),
      mask: z.number().min(0).max(1).default(0.5),
      minRegionArea: z.number().int().min(0).max(LIMITS.pixels).default(16),
    })
    // parsed like an empty object, so each threshold takes its own default
    .prefault({}),
  roles: z.object({
    ...(Object.fromEntries(Object.keys(ROLES).map((role) => [role, graphSchema.optional()])) as Record<Role, z.ZodOptional<typeof graphSchema>>),
    trackerConstants: constantsSchema.optional(),
  }),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type GraphSpec = z.infer<typeof graphSchema>;
export type ConstantsSpec = z.infer<typeof constantsSchema>;

/** The logical tensor names a role's manifest entry must map, and the ones it may map. */
export function roleTensors(role: Role) {
  return {
    inputs: ROLES[role].inputs as readonly string[],
    outputs: ROLES[role].outputs as readonly string[],
    optionalInputs: OPTIONAL_INPUTS[role] ?? [],
  };
}
