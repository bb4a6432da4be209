import { z } from "zod";
import { OPTIONAL_INPUTS, ROLES, type Role } from "./roles";

const tensorMap = z.record(z.string(), z.string().min(1));

const graphSchema = z.object({
  /** Path of the .onnx file, relative to the pack directory. */
  file: z.string().min(1),
  /** External weight files the graph needs beside it (e.g. `vision_encoder.onnx_data`). */
  data: z.array(z.string().min(1)).default([]),
  /** Logical tensor name -> the graph's tensor name. */
  inputs: tensorMap,
  outputs: tensorMap,
});

export const manifestSchema = z.object({
  name: z.string().min(1),
  description: z.string().default(""),
  /** Square input size S of both vision encoders. */
  imageSize: z.number().int().positive(),
  normalize: z
    .object({ mean: z.array(z.number()).length(3), std: z.array(z.number()).length(3) })
    .default({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }),
  tokenizer: z.object({ file: z.string().min(1), contextLength: z.number().int().positive().default(32) }),
  thresholds: z
    .object({
      detection: z.number().min(0).max(1).default(0.5),
      mask: z.number().min(0).max(1).default(0.5),
      minRegionArea: z.number().int().min(0).default(16),
    })
    .default({}),
  roles: z.object(
    Object.fromEntries(Object.keys(ROLES).map((role) => [role, graphSchema.optional()])) as Record<
      Role,
      z.ZodOptional<typeof graphSchema>
    >,
  ),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type GraphSpec = z.infer<typeof graphSchema>;

/** The logical tensor names a role's manifest entry must map, and the ones it may map. */
export function roleTensors(role: Role) {
  return {
    inputs: ROLES[role].inputs as readonly string[],
    outputs: ROLES[role].outputs as readonly string[],
    optionalInputs: OPTIONAL_INPUTS[role] ?? [],
  };
}
