"""The graphs of a pack: for each manifest role its file, ONNX tensor names, dynamic axes and manifest names.

`manifest` maps the pipeline's names (what the Node engine asks for) to the graph's tensor names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

FPN_FEATS = ["fpn_feat_0", "fpn_feat_1", "fpn_feat_2", "fpn_feat_3"]
FPN_POS = ["fpn_pos_0", "fpn_pos_1", "fpn_pos_2", "fpn_pos_3"]
EMBEDDINGS = ["image_embeddings_0", "image_embeddings_1", "image_embeddings_2"]
DETECTOR_OUT = ["pred_masks", "pred_boxes", "pred_logits", "presence_logits", "semantic_seg"]
TRACKER_OUT = ["iou_scores", "pred_masks", "object_score_logits"]


@dataclass(frozen=True)
class Role:
    name: str  # manifest role
    file: str  # path inside the pack
    inputs: list  # ONNX input names, in the wrapper's argument order
    outputs: list  # ONNX output names, in the wrapper's return order
    dynamic_axes: dict = field(default_factory=dict)
    manifest_inputs: dict = field(default_factory=dict)  # pipeline name -> ONNX input name
    manifest_outputs: dict = field(default_factory=dict)  # pipeline name -> ONNX output name


_DET_IN = {"feat0": "fpn_feat_0", "feat1": "fpn_feat_1", "feat2": "fpn_feat_2", "pos2": "fpn_pos_2",
           "textFeatures": "text_features", "textMask": "text_mask"}
_DET_OUT = {"masks": "pred_masks", "boxes": "pred_boxes", "logits": "pred_logits", "presence": "presence_logits"}
_TRK_IN = {"emb0": "image_embeddings_0", "emb1": "image_embeddings_1", "emb2": "image_embeddings_2",
           "points": "input_points", "labels": "input_labels"}
_TRK_OUT = {"iouScores": "iou_scores", "masks": "pred_masks", "objectScore": "object_score_logits"}
_POINTS_AXES = {"input_points": {2: "num_points"}, "input_labels": {2: "num_points"}}

VISION_ENCODER = Role(
    "visionEncoder", "onnx/vision_encoder.onnx", ["pixel_values"], FPN_FEATS + FPN_POS,
    manifest_inputs={"pixels": "pixel_values"},
    manifest_outputs={"feat0": "fpn_feat_0", "feat1": "fpn_feat_1", "feat2": "fpn_feat_2", "pos2": "fpn_pos_2"})
TEXT_ENCODER = Role(
    "textEncoder", "onnx/text_encoder.onnx", ["input_ids", "attention_mask"], ["text_features"],
    {"input_ids": {0: "num_prompts"}, "attention_mask": {0: "num_prompts"}, "text_features": {0: "num_prompts"}},
    {"inputIds": "input_ids", "attentionMask": "attention_mask"}, {"textFeatures": "text_features"})
DETECTOR_DECODER = Role(
    "detectorDecoder", "onnx/detector_decoder.onnx", FPN_FEATS + FPN_POS + ["text_features", "text_mask"],
    DETECTOR_OUT, manifest_inputs=_DET_IN, manifest_outputs=_DET_OUT)
DETECTOR_DECODER_BOXES = Role(
    "detectorDecoderBoxes", "onnx/detector_decoder_boxes.onnx",
    FPN_FEATS + FPN_POS + ["text_features", "text_mask", "input_boxes", "input_boxes_labels"], DETECTOR_OUT,
    {"input_boxes": {1: "num_boxes"}, "input_boxes_labels": {1: "num_boxes"}},
    dict(_DET_IN, boxes="input_boxes", boxLabels="input_boxes_labels"), _DET_OUT)
TRACKER_VISION_ENCODER = Role(
    "trackerVisionEncoder", "onnx/tracker_vision_encoder.onnx", ["pixel_values"], EMBEDDINGS,
    manifest_inputs={"pixels": "pixel_values"},
    manifest_outputs={"emb0": "image_embeddings_0", "emb1": "image_embeddings_1", "emb2": "image_embeddings_2"})
TRACKER_DECODER = Role(
    "trackerDecoder", "onnx/tracker_decoder.onnx", EMBEDDINGS + ["input_points", "input_labels"], TRACKER_OUT,
    _POINTS_AXES, _TRK_IN, _TRK_OUT)
TRACKER_DECODER_MASK = Role(
    "trackerDecoderMask", "onnx/tracker_decoder_mask.onnx", EMBEDDINGS + ["input_points", "input_labels", "input_masks"],
    TRACKER_OUT, _POINTS_AXES, dict(_TRK_IN, maskInput="input_masks"), _TRK_OUT)

BACKBONE = Role(
    "backbone", "onnx/backbone.onnx", ["pixel_values"],
    FPN_FEATS + FPN_POS + EMBEDDINGS + ["tracker_feat_2", "tracker_pos_2"],
    manifest_inputs={"pixels": "pixel_values"},
    manifest_outputs={"feat0": "fpn_feat_0", "feat1": "fpn_feat_1", "feat2": "fpn_feat_2", "pos2": "fpn_pos_2",
                      "emb0": "image_embeddings_0", "emb1": "image_embeddings_1", "emb2": "image_embeddings_2",
                      "trackerFeat2": "tracker_feat_2", "trackerPos2": "tracker_pos_2"})

_VTRK_OUT = ["pred_masks", "iou_scores", "object_score_logits", "object_pointers"]
_VTRK_MANIFEST_OUT = {"masks": "pred_masks", "iouScores": "iou_scores", "objectScore": "object_score_logits",
                      "objectPointers": "object_pointers"}
VIDEO_TRACKER_DECODER = Role(
    "videoTrackerDecoder", "onnx/video_tracker_decoder.onnx", EMBEDDINGS + ["input_points", "input_labels"],
    _VTRK_OUT, _POINTS_AXES, _TRK_IN, _VTRK_MANIFEST_OUT)
VIDEO_TRACKER_DECODER_MASK = Role(
    "videoTrackerDecoderMask", "onnx/video_tracker_decoder_mask.onnx",
    EMBEDDINGS + ["input_points", "input_labels", "input_masks"], _VTRK_OUT, _POINTS_AXES,
    dict(_TRK_IN, maskInput="input_masks"), _VTRK_MANIFEST_OUT)

MEMORY_ENCODER = Role(
    "memoryEncoder", "onnx/memory_encoder.onnx",
    ["tracker_feat_2", "high_res_masks", "object_score_logits", "mask_from_prompt"],
    ["maskmem_features", "maskmem_pos_enc"],
    {"high_res_masks": {0: "num_objects"}, "object_score_logits": {0: "num_objects"},
     "maskmem_features": {0: "num_objects"}, "maskmem_pos_enc": {0: "num_objects"}},
    {"trackerFeat2": "tracker_feat_2", "highResMasks": "high_res_masks", "objectScore": "object_score_logits",
     "maskFromPrompt": "mask_from_prompt"},
    {"memoryFeatures": "maskmem_features", "memoryPosEnc": "maskmem_pos_enc"})
MEMORY_ATTENTION = Role(
    "memoryAttention", "onnx/memory_attention.onnx",
    ["tracker_feat_2", "tracker_pos_2", "memory_features", "memory_pos_enc", "memory_offsets", "object_pointers",
     "object_pointer_offsets", "object_pointer_max_offset"],
    ["image_embeddings_2"],
    {"memory_features": {0: "num_memories"}, "memory_pos_enc": {0: "num_memories"},
     "memory_offsets": {0: "num_memories"}, "object_pointers": {0: "num_pointers"},
     "object_pointer_offsets": {0: "num_pointers"}},
    {"trackerFeat2": "tracker_feat_2", "trackerPos2": "tracker_pos_2", "memoryFeatures": "memory_features",
     "memoryPosEnc": "memory_pos_enc", "memoryOffsets": "memory_offsets", "objectPointers": "object_pointers",
     "pointerOffsets": "object_pointer_offsets", "pointerMaxOffset": "object_pointer_max_offset"},
    {"emb2": "image_embeddings_2"})

# Not a graph: the video tracker's learned constants, raw little-endian float32 (`file`: the JSON index of names,
# shapes and byte offsets; `data`: the .bin it indexes). outputs: logical name -> tensor name in the index.
TRACKER_CONSTANTS_INDEX = "onnx/tracker_constants.json"
TRACKER_CONSTANTS_DATA = "onnx/tracker_constants.bin"
TRACKER_CONSTANTS = {
    # logical name -> (tensor name in the index, HF Sam3TrackerVideoModel parameter)
    "maskmemTposEnc": ("maskmem_tpos_enc", "memory_temporal_positional_encoding"),
    "noMemEmbed": ("no_mem_embed", "no_memory_embedding"),
    "noMemPosEnc": ("no_mem_pos_enc", "no_memory_positional_encoding"),
    "noObjPtr": ("no_obj_ptr", "no_object_pointer"),
    "noObjEmbedSpatial": ("no_obj_embed_spatial", "occlusion_spatial_embedding_parameter"),
    "objPtrTposProjWeight": ("obj_ptr_tpos_proj.weight", "temporal_positional_encoding_projection_layer.weight"),
    "objPtrTposProjBias": ("obj_ptr_tpos_proj.bias", "temporal_positional_encoding_projection_layer.bias"),
    "maskDownsampleWeight": ("mask_downsample.weight", "mask_downsample.weight"),
    "maskDownsampleBias": ("mask_downsample.bias", "mask_downsample.bias"),
}

# Every graph of a pack, in the manifest's order (trackerConstants, not a graph, follows them).
GRAPH_ROLES = [VISION_ENCODER, TEXT_ENCODER, DETECTOR_DECODER, DETECTOR_DECODER_BOXES, TRACKER_VISION_ENCODER,
               TRACKER_DECODER, TRACKER_DECODER_MASK, BACKBONE, VIDEO_TRACKER_DECODER, VIDEO_TRACKER_DECODER_MASK,
               MEMORY_ENCODER, MEMORY_ATTENTION]
ROLES = {r.name: r for r in GRAPH_ROLES}
TRACKER_CONSTANTS_ROLE = "trackerConstants"
