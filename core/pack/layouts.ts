import type { Manifest } from "./manifest";

type Roles = Manifest["roles"];

/** The graphs of this project's own export (the bundled packs and `models/export`): names as in SAM3.md section 3. */
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

/**
 * usls "sam3-image" v2 (jamjamjon/assets release `sam3`): one decoder that always takes boxes (no box = one zero
 * box labelled -10), and a text encoder that returns its own boolean mask.
 */
export const USLS_SAM3_IMAGE_ROLES: Roles = {
  visionEncoder: { ...PROJECT_ROLES.visionEncoder!, file: "vision-encoder.onnx", inputs: { pixels: "images" } },
  textEncoder: { ...PROJECT_ROLES.textEncoder!, file: "text-encoder.onnx" },
  detectorDecoderBoxes: { ...PROJECT_ROLES.detectorDecoderBoxes!, file: "decoder.onnx" },
};

/** onnx-community/sam3-tracker-ONNX (used by transformers.js): dotted embedding names, external `.onnx_data`. */
export const ONNX_COMMUNITY_TRACKER_ROLES: Roles = {
  trackerVisionEncoder: {
    file: "onnx/vision_encoder.onnx",
    data: ["onnx/vision_encoder.onnx_data"],
    inputs: { pixels: "pixel_values" },
    outputs: { emb0: "image_embeddings.0", emb1: "image_embeddings.1", emb2: "image_embeddings.2" },
  },
  trackerDecoder: {
    file: "onnx/prompt_encoder_mask_decoder.onnx",
    data: ["onnx/prompt_encoder_mask_decoder.onnx_data"],
    inputs: {
      emb0: "image_embeddings.0", emb1: "image_embeddings.1", emb2: "image_embeddings.2",
      points: "input_points", labels: "input_labels", boxes: "input_boxes",
    },
    outputs: { iouScores: "iou_scores", masks: "pred_masks", objectScore: "object_score_logits" },
  },
};
