import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rewriteOnnx } from "./onnx-rewrite";

const DOTTED = { image_embeddings_0: "image_embeddings.0", image_embeddings_1: "image_embeddings.1", image_embeddings_2: "image_embeddings.2" };

/** What transformers.js reads beside the graphs: the model type, the feature levels forward() feeds, the processor. */
const CONFIG = { model_type: "sam3_tracker", image_size: 1008, vision_config: { num_feature_levels: 3 } };
const PREPROCESSOR = {
  processor_class: "Sam2Processor",
  image_processor_type: "Sam2ImageProcessorFast",
  size: { height: 1008, width: 1008 },
  do_resize: true,
  resample: 2,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
};

/**
 * A 1008 pack's tracker graphs laid out as onnx-community/sam3-tracker-ONNX: `onnx/<graph>.onnx` with dotted
 * embedding names and weights in `<graph>.onnx_data`, plus the two JSON files transformers.js loads. Its decoder has
 * no `input_boxes` (transformers.js feeds only the inputs a session declares). No Python: it runs at bench time.
 */
export function writeOnnxCommunityTracker(pack: string, dir: string): string {
  mkdirSync(join(dir, "onnx"), { recursive: true });
  const graphs = { vision_encoder: "tracker_vision_encoder.onnx", prompt_encoder_mask_decoder: "tracker_decoder.onnx" };
  for (const [name, source] of Object.entries(graphs)) {
    const { model, data } = rewriteOnnx(readFileSync(join(pack, "onnx", source)), DOTTED, `${name}.onnx_data`);
    writeFileSync(join(dir, "onnx", `${name}.onnx`), model);
    writeFileSync(join(dir, "onnx", `${name}.onnx_data`), data!);
  }
  writeFileSync(join(dir, "config.json"), JSON.stringify(CONFIG, null, 2));
  writeFileSync(join(dir, "preprocessor_config.json"), JSON.stringify(PREPROCESSOR, null, 2));
  return dir;
}
