import { basename } from "node:path";

/**
 * The Triton model that serves one graph of a pack: `<pack name>-<graph file stem>` (sam3-tiny-336-backbone), so one
 * server can hold several packs. `models triton-repo` writes these names and the Triton engine asks for them.
 */
export function tritonModelName(packName: string, graphFile: string): string {
  return `${packName}-${basename(graphFile).replace(/\.onnx$/, "")}`.replace(/[^A-Za-z0-9_.-]/g, "_");
}
