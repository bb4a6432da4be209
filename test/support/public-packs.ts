import { inject } from "vitest";

/** Folders laid out exactly as the public SAM 3 exports, built from sam3-tiny-1008 in every precision. */
export interface PublicPacks {
  /** onnx-community/sam3-tracker-ONNX as transformers.js loads it (onnx/*.onnx + *.onnx_data, config.json, ...). */
  onnxCommunity: string;
  /** usls's sam3 release (vision-encoder.onnx, text-encoder.onnx, geo-encoder-mask-decoder.onnx, tracker-*.onnx). */
  usls: string;
}

/** What public-packs.setup.ts provides: the folders, or why they could not be built. */
export type PublicPacksResult = PublicPacks | { error: string };

declare module "vitest" {
  export interface ProvidedContext {
    publicPacks: PublicPacksResult;
  }
}

/** The fixture folders, or a clear failure of the calling test when the global setup could not build them. */
export function publicPacks(): PublicPacks {
  const result = inject("publicPacks");
  if (!result) throw new Error("the public-layout fixtures are missing: test/support/public-packs.setup.ts is not a globalSetup");
  if ("error" in result) throw new Error(`the public-layout fixtures could not be built: ${result.error}`);
  return result;
}
