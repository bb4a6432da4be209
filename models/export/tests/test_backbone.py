"""The backbone graph: one ViT pass -> the detector's FPN features and the tracker's image embeddings, equal to
HF Sam3VideoModel (which shares the detector's ViT with the tracker) within 1e-5."""
import os

import numpy as np
import pytest
import torch

from conftest import PRESET_KEYS
from sam3_export import configs
from sam3_export.export import max_abs_diff, run_onnx
from sam3_export.roles import BACKBONE

TOL = 1e-5


@pytest.fixture
def backbone(pack):
    """(backbone.onnx path, the HF video model, pixel values) of a tiny pack."""
    def get(key):
        out, _, graphs, video = pack(key)
        return os.path.join(out, BACKBONE.file), video, graphs["backbone"].args[0]
    return get


def hf_reference(video, px):
    """The HF video model's per-frame features: the detector's vision embeddings and the tracker's (as
    Sam3VideoModel._det_track_one_frame and Sam3TrackerVideoModel._single_frame_forward compute them)."""
    with torch.no_grad():
        ve = video.detector_model.get_vision_features(pixel_values=px)
        feats, pos = video.get_vision_features_for_tracker(vision_embeds=ve)
        trk = video.tracker_model
        b = px.shape[0]
        no_mem = list(feats)
        no_mem[-1] = no_mem[-1] + trk.no_memory_embedding
        emb = [f.permute(1, 2, 0).view(b, -1, *s) for f, s in zip(no_mem, trk.backbone_feature_sizes)]
        g = trk.backbone_feature_sizes[-1]
        out = dict(zip(["fpn_feat_0", "fpn_feat_1", "fpn_feat_2", "fpn_feat_3"], ve.fpn_hidden_states))
        out.update(zip(["fpn_pos_0", "fpn_pos_1", "fpn_pos_2", "fpn_pos_3"], ve.fpn_position_encoding))
        out.update(zip(["image_embeddings_0", "image_embeddings_1", "image_embeddings_2"], emb))
        out["tracker_feat_2"] = feats[-1].permute(1, 2, 0).view(b, -1, *g)
        out["tracker_pos_2"] = pos[-1].permute(1, 2, 0).view(b, -1, *g)
    return {k: v.numpy() for k, v in out.items()}


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_backbone_equals_hf_video_model(key, backbone):
    path, video, px = backbone(key)
    got = dict(zip(BACKBONE.outputs, run_onnx(path, {"pixel_values": px.numpy()})))
    want = hf_reference(video, px)
    g = configs.grid(configs.PRESETS[key].image_size)
    C = configs.VIDEO_HIDDEN
    assert got["image_embeddings_0"].shape == (1, C // 8, 4 * g, 4 * g)
    assert got["image_embeddings_1"].shape == (1, C // 4, 2 * g, 2 * g)
    assert got["image_embeddings_2"].shape == got["tracker_feat_2"].shape == got["tracker_pos_2"].shape == (1, C, g, g)
    assert got["fpn_feat_3"].shape == (1, C, g // 2, g // 2)
    diffs = {n: max_abs_diff(got[n], want[n]) for n in BACKBONE.outputs}
    print(key, diffs)
    assert max(diffs.values()) <= TOL, diffs
