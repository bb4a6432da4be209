"""Model configurations of the packs this tool builds, and the seeded models made from them.

The tiny packs (`tiny-336`, `tiny-1008`) are one tiny `Sam3VideoModel` each, with random weights at the real tensor
layout: a ViT of hidden size 32 and 2 layers at the real patch size, the real feature grids and query counts, FPN /
detector / tracker width 64, memory channels 64. Their weights come from a fixed seed, so a rebuild gives the same
graphs as the ones bundled in `models/`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

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
    """Keyword arguments of `Sam3Config` for a tiny detector of width H."""
    text = dict(vocab_size=49408, hidden_size=H, intermediate_size=2 * H, projection_dim=H, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=32, hidden_act="gelu")
    return dict(vision_config=tiny_vision_config(S, H), text_config=text,
                geometry_encoder_config=dict(hidden_size=H, num_layers=1, num_attention_heads=2, intermediate_size=2 * H),
                detr_encoder_config=dict(hidden_size=H, num_layers=1, num_attention_heads=2, intermediate_size=2 * H),
                detr_decoder_config=dict(hidden_size=H, num_layers=2, num_queries=Q, num_attention_heads=2,
                                         intermediate_size=2 * H),
                mask_decoder_config=dict(hidden_size=H, num_upsampling_stages=3, num_attention_heads=2))


# Seed of the tiny packs' weights.
VIDEO_SEED = 3
# Output bias of the tiny tracker's object-score head (see build_video).
TINY_OBJECT_SCORE_BIAS = 1.0


# Sizes of the tiny video model. HF's memory attention reads memories of 64 channels (its cross-attention has
# kv_in_dim=64 built in) and the object pointers, of the hidden size C, join them split into C/64 tokens; the tracker
# neck has the detector's FPN width. The bundled packs take the smallest width that runs, 64 (a pointer is one
# token), which keeps them small; the exporter's tests also check memory attention at 128 (a pointer splits into 2
# tokens, as 256 into 4 in the real model). Memory channels 64, on the tiny ViT (hidden 32, 2 layers).
VIDEO_HIDDEN = 64
WIDE_VIDEO_HIDDEN = 128
VIDEO_MEMORY_CHANNELS = 64


def tiny_video_vision_config(S: int, H: int = 32, C: int = VIDEO_HIDDEN) -> dict:
    return dict(tiny_vision_config(S, H), fpn_hidden_size=C)


def tiny_tracker_video_config(S: int, H: int = 32, C: int = VIDEO_HIDDEN) -> dict:
    """Keyword arguments of `Sam3TrackerVideoConfig` for a tiny video tracker of width C: a prompt encoder and mask
    decoder of the tiny tracker's depth, memory channels 64, 2 memory-attention layers with RoPE over the pack's
    grid, and the real 7 memory slots, 16 object pointers and 4 conditioning frames."""
    g = grid(S)
    return dict(vision_config=dict(tiny_video_vision_config(S, H, C), model_type="sam3_vision_model"),
                prompt_encoder_config=dict(hidden_size=C, image_size=S, patch_size=14, mask_input_channels=16),
                mask_decoder_config=dict(hidden_size=C, mlp_dim=2 * C, num_hidden_layers=2, num_attention_heads=2,
                                         iou_head_hidden_dim=C),
                image_size=S,
                memory_attention_hidden_size=C, memory_attention_num_layers=2, memory_attention_num_attention_heads=1,
                memory_attention_feed_forward_hidden_size=2 * C, memory_attention_rope_feat_sizes=[g, g],
                memory_encoder_hidden_size=C, memory_encoder_output_channels=VIDEO_MEMORY_CHANNELS,
                mask_downsampler_embed_dim=C, memory_fuser_embed_dim=C, memory_fuser_intermediate_dim=4 * C,
                num_maskmem=7, max_object_pointers_in_encoder=16, max_cond_frame_num=4)


def tiny_video_config(S: int, Q: int, H: int = 32, C: int = VIDEO_HIDDEN) -> dict:
    """Keyword arguments of `Sam3VideoConfig`: a tiny detector of width C (on the tiny ViT and the tiny text
    encoder, hidden 32) and the tiny video tracker on one backbone."""
    det = tiny_detector_config(S, Q, C)
    det["vision_config"] = tiny_video_vision_config(S, H, C)
    det["text_config"] = tiny_detector_config(S, Q, H)["text_config"]  # the tiny text encoder, projected to C
    return dict(detector_config=det, tracker_config=tiny_tracker_video_config(S, H, C))


def build_video(preset: Preset, seed: int = VIDEO_SEED, width: int = VIDEO_HIDDEN):
    """A tiny `Sam3VideoModel` (detector + video tracker sharing the detector's ViT), all weights from `seed`: every
    graph of a tiny pack comes from it."""
    from transformers import Sam3VideoConfig, Sam3VideoModel
    from . import roi_align
    roi_align.install()
    torch.manual_seed(seed)
    video = Sam3VideoModel(Sam3VideoConfig(**tiny_video_config(preset.image_size, preset.num_queries,
                                                                preset.hidden_size, width))).eval()
    seed_learned_embeddings(video, seed)
    # a trained tracker reports a clicked object as present; random weights put its object-score logit at a coin
    # flip around 0, so the tiny packs' tracker leans towards present, as the tests of tracking expect
    with torch.no_grad():
        video.tracker_model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(TINY_OBJECT_SCORE_BIAS)
    return video


def seed_learned_embeddings(video, seed: int) -> None:
    """HF initialises the tracker's learned embeddings to zeros: give a random-weight model seeded values, so that
    each one shows in the graphs' outputs and in the constants."""
    gen = torch.Generator().manual_seed(seed)
    t = video.tracker_model
    with torch.no_grad():
        for name in LEARNED_EMBEDDINGS:
            p = getattr(t, name)
            if p is not None:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


# The video tracker's parameters that HF initialises to zeros (see build_video).
LEARNED_EMBEDDINGS = ("no_memory_embedding", "no_memory_positional_encoding", "memory_temporal_positional_encoding",
                      "no_object_pointer", "occlusion_spatial_embedding_parameter")
