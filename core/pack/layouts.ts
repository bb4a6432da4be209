import type { GraphSpec, Manifest } from "./manifest";

type Roles = Manifest["roles"];

/** The graphs of this project's own export (the bundled packs and `models/export`): names as in docs/model-pack.md. */
export const PROJECT_ROLES: Roles = {
  visionEncoder: {
    file: "onnx/vision_encoder.onnx",
    data: [],
    inputs: { pixels: "pixel_values" },
    outputs: { feat0: "fpn_feat_0", feat1: "fpn_feat_1", feat2: "fpn_feat_2", pos2: "fpn_pos_2" },
  },
  textEncoder: {
    file: "onnx/text_encoder.onnx",
    data: [],
    inputs: { inputIds: "input_ids", attentionMask: "attention_mask" },
    outputs: { textFeatures: "text_features" },
  },
  detectorDecoder: {
    file: "onnx/detector_decoder.onnx",
    data: [],
    inputs: {
      feat0: "fpn_feat_0", feat1: "fpn_feat_1", feat2: "fpn_feat_2", pos2: "fpn_pos_2",
      textFeatures: "text_features", textMask: "text_mask",
    },
    outputs: { masks: "pred_masks", boxes: "pred_boxes", logits: "pred_logits", presence: "presence_logits" },
  },
  detectorDecoderBoxes: {
    file: "onnx/detector_decoder_boxes.onnx",
    data: [],
    inputs: {
      feat0: "fpn_feat_0", feat1: "fpn_feat_1", feat2: "fpn_feat_2", pos2: "fpn_pos_2",
      textFeatures: "text_features", textMask: "text_mask", boxes: "input_boxes", boxLabels: "input_boxes_labels",
    },
    outputs: { masks: "pred_masks", boxes: "pred_boxes", logits: "pred_logits", presence: "presence_logits" },
  },
  trackerVisionEncoder: {
    file: "onnx/tracker_vision_encoder.onnx",
    data: [],
    inputs: { pixels: "pixel_values" },
    outputs: { emb0: "image_embeddings_0", emb1: "image_embeddings_1", emb2: "image_embeddings_2" },
  },
  trackerDecoder: {
    file: "onnx/tracker_decoder.onnx",
    data: [],
    inputs: {
      emb0: "image_embeddings_0", emb1: "image_embeddings_1", emb2: "image_embeddings_2",
      points: "input_points", labels: "input_labels",
    },
    outputs: { iouScores: "iou_scores", masks: "pred_masks", objectScore: "object_score_logits" },
  },
  trackerDecoderMask: {
    file: "onnx/tracker_decoder_mask.onnx",
    data: [],
    inputs: {
      emb0: "image_embeddings_0", emb1: "image_embeddings_1", emb2: "image_embeddings_2",
      points: "input_points", labels: "input_labels", maskInput: "input_masks",
    },
    outputs: { iouScores: "iou_scores", masks: "pred_masks", objectScore: "object_score_logits" },
  },
};

const USLS_RELEASE = "https://github.com/jamjamjon/assets/releases/download/sam3/";
/** usls names a precision by a `-<dtype>` suffix (sam3_image/config.rs); it publishes no sizes. */
const USLS_DTYPES = { fp32: { suffix: "" }, fp16: { suffix: "-fp16" }, q8: { suffix: "-q8" }, q4f16: { suffix: "-q4f16" }, bnb4: { suffix: "-bnb4" } };
const ONNX_COMMUNITY_REPO = "https://huggingface.co/onnx-community/sam3-tracker-ONNX/resolve/main/";

/** The tracker's prompt encoder + mask decoder as HF exports it: its own box input, no mask input, 3 candidates. */
const HF_TRACKER_DECODER: GraphSpec = {
  file: "",
  data: [],
  inputs: {
    emb0: "image_embeddings.0", emb1: "image_embeddings.1", emb2: "image_embeddings.2",
    points: "input_points", labels: "input_labels", boxes: "input_boxes",
  },
  outputs: { iouScores: "iou_scores", masks: "pred_masks", objectScore: "object_score_logits" },
};
const HF_TRACKER_ENCODER: GraphSpec = {
  file: "",
  data: [],
  inputs: { pixels: "pixel_values" },
  outputs: { emb0: "image_embeddings.0", emb1: "image_embeddings.1", emb2: "image_embeddings.2" },
};

/**
 * A public export's layout: its graphs (as float32 file names, mapped to roles), the precisions it is published in
 * (how each renames a file, with the published total size where known), and the extra files it needs.
 */
export interface PublicLayout {
  baseUrl: string;
  /** dtype -> the file-name suffix of that precision (inserted before `.onnx`) and its published size in bytes. */
  dtypes: Record<string, { suffix: string; bytes?: number }>;
  /** Each graph's external weight file beside it (`<graph>.onnx_data`), when the export keeps weights apart. */
  externalData: boolean;
  roles: Roles;
  /** Non-graph files (tokenizer), the same in every precision. */
  extra: string[];
  /** Published sha256 sums by file path. */
  sha256?: Record<string, string>;
  variant(dtype: string): { roles: Roles; files: { path: string; sha256?: string }[]; bytes?: number };
}

function layout(spec: Omit<PublicLayout, "variant">): PublicLayout {
  return {
    ...spec,
    variant(dtype) {
      const { suffix, bytes } = spec.dtypes[dtype];
      const rename = (file: string) => file.replace(/\.onnx$/, `${suffix}.onnx`);
      const roles = Object.fromEntries(
        Object.entries(spec.roles).map(([role, graph]) => {
          const file = rename(graph!.file);
          return [role, { ...graph!, file, data: spec.externalData ? [`${file}_data`] : [] }];
        }),
      ) as Roles;
      const graphs = Object.values(roles).flatMap((g) => [g!.file, ...g!.data]);
      return { roles, files: [...graphs, ...spec.extra].map((path) => ({ path, sha256: spec.sha256?.[path] })), bytes };
    },
  };
}

export const PUBLIC_LAYOUTS = {
  /**
   * usls "sam3-image" v2 (jamjamjon/usls, sam3_image/config.rs and scripts/sam3-image/export_v2.py): `images` in,
   * a text encoder that also gives its boolean mask, and the geometry encoder + decoder in one graph that always
   * takes boxes (no box = one zero box labelled -10).
   */
  uslsImage: layout({
    baseUrl: USLS_RELEASE,
    dtypes: USLS_DTYPES,
    externalData: false,
    roles: {
      visionEncoder: { ...PROJECT_ROLES.visionEncoder!, file: "vision-encoder.onnx", inputs: { pixels: "images" } },
      textEncoder: { ...PROJECT_ROLES.textEncoder!, file: "text-encoder.onnx" },
      detectorDecoderBoxes: { ...PROJECT_ROLES.detectorDecoderBoxes!, file: "geo-encoder-mask-decoder.onnx" },
    },
    extra: ["tokenizer.json"],
  }),
  /** usls's SAM 3 tracker files (the HF tracker export under usls names): same tensors as onnx-community's. */
  uslsTracker: layout({
    baseUrl: USLS_RELEASE,
    dtypes: USLS_DTYPES,
    externalData: false,
    roles: {
      trackerVisionEncoder: { ...HF_TRACKER_ENCODER, file: "tracker-vision-encoder.onnx" },
      trackerDecoder: { ...HF_TRACKER_DECODER, file: "tracker-prompt-encoder-mask-decoder.onnx" },
    },
    extra: [],
  }),
  /**
   * onnx-community/sam3-tracker-ONNX as transformers.js loads it: `onnx/<graph><suffix>.onnx` with its weights in
   * `<file>_data` beside it; suffixes as transformers.js's dtype table. Sizes are the repository's (graph + data).
   */
  onnxCommunityTracker: layout({
    baseUrl: ONNX_COMMUNITY_REPO,
    dtypes: {
      fp32: { suffix: "", bytes: 1_870_741_928 + 22_285_434 },
      fp16: { suffix: "_fp16", bytes: 935_992_733 + 11_240_876 },
      q8: { suffix: "_quantized", bytes: 528_670_397 + 10_066_013 },
      int8: { suffix: "_int8", bytes: 528_670_397 + 10_066_013 },
      uint8: { suffix: "_uint8", bytes: 528_670_397 + 10_066_013 },
      q4: { suffix: "_q4", bytes: 370_274_764 + 8_470_668 },
      q4f16: { suffix: "_q4f16", bytes: 296_930_472 + 5_364_622 },
      bnb4: { suffix: "_bnb4", bytes: 342_490_428 + 8_212_347 },
    },
    externalData: true,
    roles: {
      trackerVisionEncoder: { ...HF_TRACKER_ENCODER, file: "onnx/vision_encoder.onnx" },
      trackerDecoder: { ...HF_TRACKER_DECODER, file: "onnx/prompt_encoder_mask_decoder.onnx" },
    },
    extra: [],
    // the repository's LFS sums of the float32 files, as listed by projects that pin them
    sha256: {
      "onnx/vision_encoder.onnx": "9f284aab8c3d8e81e9c79f7b566f9cea43b7bc9afdd920eee2390fb65b3db897",
      "onnx/vision_encoder.onnx_data": "838e1f0b2d0394ed3bd3b3499775dd6676524e1dfc5a7371948a76dcb69e4dd3",
      "onnx/prompt_encoder_mask_decoder.onnx": "4f9ac85291d634ae36a21ce940e3c09671cc05b6511966e5d3d96988b12b95f8",
      "onnx/prompt_encoder_mask_decoder.onnx_data": "2d870726d484cb496760fd139c21f115cf1b945c6b69583489faa2ac79f1d2ae",
    },
  }),
};
