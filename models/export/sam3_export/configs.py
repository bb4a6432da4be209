"""Model configurations of the packs this tool builds, and the seeded models made from them.

The tiny packs (`tiny-336`, `tiny-1008`) have random weights at the real tensor layout: hidden size 32, 2 layers,
the real patch size, feature grids and query counts. Their weights come from fixed seeds, so a rebuild gives the
same graphs as the ones bundled in `models/`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# Seeds of the bundled tiny packs: the detector (image model) and the tracker are separate models.
DETECTOR_SEED = 1
TRACKER_SEED = 2


@dataclass(frozen=True)
class Preset:
    name: str  # pack name, e.g. "sam3-tiny-336"
    image_size: int  # S: the model input is S x S
    num_queries: int  # detector queries
    hidden_size: int = 32
    description: str = ""


PRESETS = {
    "tiny-336": Preset(
        "sam3-tiny-336", 336, 16,
        description="tiny SAM 3 at 336 px (16 queries): RANDOM WEIGHTS with the real tensor layout. It proves the "
                    "pipeline; its masks are meaningless. See the README for the real weights."),
    "tiny-1008": Preset(
        "sam3-tiny-1008", 1008, 200,
        description="tiny SAM 3 at 1008 px (200 queries, the real shapes): RANDOM WEIGHTS with the real tensor "
                    "layout. It proves the pipeline; its masks are meaningless. See the README for the real weights."),
}


def grid(image_size: int, patch_size: int = 14) -> int:
    """Side of the ViT token grid (g): the FPN levels are 4g, 2g, g and g/2."""
    return image_size // patch_size


def tiny_vision_config(S: int, H: int = 32) -> dict:
    g = grid(S)
    vit = dict(hidden_size=H, intermediate_size=2 * H, num_hidden_layers=2, num_attention_heads=2, image_size=S,
               patch_size=14, window_size=min(24, g), global_attn_indexes=[1], pretrain_image_size=336)
    return dict(backbone_config=vit, fpn_hidden_size=H, backbone_feature_sizes=[[4 * g, 4 * g], [2 * g, 2 * g], [g, g]])


def tiny_detector_config(S: int, Q: int, H: int = 32) -> dict:
    """Keyword arguments of `Sam3Config` for a tiny image model (the detector)."""
    text = dict(vocab_size=49408, hidden_size=H, intermediate_size=2 * H, projection_dim=H, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=32, hidden_act="gelu")
    return dict(vision_config=tiny_vision_config(S, H), text_config=text,
                geometry_encoder_config=dict(hidden_size=H, num_layers=1, num_attention_heads=2, intermediate_size=2 * H),
                detr_encoder_config=dict(hidden_size=H, num_layers=1, num_attention_heads=2, intermediate_size=2 * H),
                detr_decoder_config=dict(hidden_size=H, num_layers=2, num_queries=Q, num_attention_heads=2,
                                         intermediate_size=2 * H),
                mask_decoder_config=dict(hidden_size=H, num_upsampling_stages=3, num_attention_heads=2))


def tiny_tracker_config(S: int, H: int = 32) -> dict:
    """Keyword arguments of `Sam3TrackerConfig` for a tiny interactive tracker (image-only SAM 2 style head)."""
    return dict(vision_config=dict(tiny_vision_config(S, H), model_type="sam3_vision_model"),
                prompt_encoder_config=dict(hidden_size=H, image_size=S, patch_size=14, mask_input_channels=16),
                mask_decoder_config=dict(hidden_size=H, mlp_dim=2 * H, num_hidden_layers=2, num_attention_heads=2,
                                         iou_head_hidden_dim=H))


def build_detector(preset: Preset, seed: int = DETECTOR_SEED):
    from transformers import Sam3Config, Sam3Model
    from . import roi_align
    roi_align.install()
    torch.manual_seed(seed)
    return Sam3Model(Sam3Config(**tiny_detector_config(preset.image_size, preset.num_queries, preset.hidden_size))).eval()


def build_tracker(preset: Preset, seed: int = TRACKER_SEED):
    from transformers import Sam3TrackerConfig, Sam3TrackerModel
    torch.manual_seed(seed)
    return Sam3TrackerModel(Sam3TrackerConfig(**tiny_tracker_config(preset.image_size, preset.hidden_size))).eval()


# Seed of the modules only the video model has (the tracker neck on the shared backbone, the memory graphs).
VIDEO_SEED = 3


def tiny_tracker_video_config(S: int, H: int = 32) -> dict:
    """Keyword arguments of `Sam3TrackerVideoConfig` for a tiny video tracker: the tiny tracker's prompt encoder and
    mask decoder, memory sizes scaled to the hidden size with the real ratios (memory channels H/4, so an object
    pointer still splits into 4 tokens), 2 memory-attention layers with RoPE over the pack's grid, and the real
    7 memory slots, 16 object pointers and 4 conditioning frames."""
    g = grid(S)
    return dict(tiny_tracker_config(S, H), image_size=S,
                memory_attention_hidden_size=H, memory_attention_num_layers=2, memory_attention_num_attention_heads=1,
                memory_attention_feed_forward_hidden_size=2 * H, memory_attention_rope_feat_sizes=[g, g],
                memory_encoder_hidden_size=H, memory_encoder_output_channels=H // 4, mask_downsampler_embed_dim=H,
                memory_fuser_embed_dim=H, memory_fuser_intermediate_dim=4 * H,
                num_maskmem=7, max_object_pointers_in_encoder=16, max_cond_frame_num=4)


def tiny_video_config(S: int, Q: int, H: int = 32) -> dict:
    """Keyword arguments of `Sam3VideoConfig`: the tiny detector and the tiny video tracker on one backbone."""
    return dict(detector_config=tiny_detector_config(S, Q, H), tracker_config=tiny_tracker_video_config(S, H))


def build_video(preset: Preset, seed: int = VIDEO_SEED, share_weights: bool = True):
    """A tiny `Sam3VideoModel` (detector + video tracker sharing the detector's ViT).

    With share_weights, the modules the image models also have take their weights: the detector is the seeded
    image model (so the backbone's FPN features are the pack's vision encoder's), and the tracker's prompt
    encoder and mask decoder are the seeded tracker's (so the pack's tracker decoders read the backbone's
    embeddings). What only the video model has (the tracker neck on the shared ViT, the memory modules) comes
    from `seed`."""
    from transformers import Sam3VideoConfig, Sam3VideoModel
    from . import roi_align
    roi_align.install()
    torch.manual_seed(seed)
    video = Sam3VideoModel(Sam3VideoConfig(**tiny_video_config(preset.image_size, preset.num_queries,
                                                                preset.hidden_size))).eval()
    if share_weights:
        video.detector_model.load_state_dict(build_detector(preset).state_dict())
        tracker = build_tracker(preset)
        for name in ("prompt_encoder", "mask_decoder", "shared_image_embedding"):
            getattr(video.tracker_model, name).load_state_dict(getattr(tracker, name).state_dict())
        video.tracker_model.no_memory_embedding.data.copy_(tracker.no_memory_embedding.data)
    return video
