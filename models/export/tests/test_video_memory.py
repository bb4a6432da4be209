"""The video tracker's memory graphs (memory encoder, memory attention) equal HF Sam3TrackerVideoModel within 1e-5
on both tiny packs, with the memory frames (N) and object pointers (M) as dynamic axes; the tracker constants in
the pack equal HF's parameters exactly."""
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import PRESET_KEYS
from sam3_export import configs
from sam3_export.export import max_abs_diff, read_tracker_constants, run_onnx, write_tracker_constants
from sam3_export.roles import MEMORY_ATTENTION, MEMORY_ENCODER, TRACKER_CONSTANTS

TOL = 1e-5


@pytest.fixture
def video(pack):
    """(pack folder, the HF video model, tracker_feat_2, tracker_pos_2 as torch tensors) of a tiny pack."""
    def get(key):
        out, _, graphs, model = pack(key)
        with torch.no_grad():
            o = graphs["backbone"].module(*graphs["backbone"].args)
        return out, model, o[11], o[12]
    return get


class _TorchWithoutBfloat16:
    """torch, where bfloat16 is float32: HF's _encode_new_memory then returns its features before the rounding."""
    bfloat16 = torch.float32

    def __getattr__(self, name):
        return getattr(torch, name)


def hf_memory(t, feat, high, obj, from_prompt, rounded=True):
    """HF's _encode_new_memory for B objects on one frame, back to [B, Cm, g, g] float32; with rounded=False,
    the features before HF rounds them to bfloat16."""
    from unittest import mock
    import transformers.models.sam3_tracker_video.modeling_sam3_tracker_video as hf
    B = high.shape[0]
    g = t.backbone_feature_sizes[-1]
    with torch.no_grad(), mock.patch.object(hf, "torch", torch if rounded else _TorchWithoutBfloat16()):
        f, p = t._encode_new_memory(current_vision_feats=feat.flatten(2).permute(2, 0, 1).expand(-1, B, -1),
                                    pred_masks_high_res=high, object_score_logits=obj, is_mask_from_pts=from_prompt)
    back = lambda x: x.float().permute(1, 2, 0).reshape(B, -1, *g).numpy()
    return back(f), back(p)


def bf16(x):
    """float32 -> the nearest bfloat16 (round to nearest even), in float32: what the caller does to the memory."""
    return torch.from_numpy(np.ascontiguousarray(x)).to(torch.bfloat16).float().numpy()


def check_memory(got, t, feat, high, obj, from_prompt):
    """The graph's memory equals HF's within 1e-5: the features as HF computes them before it rounds them to
    bfloat16, and the position encoding; rounded as HF rounds them, the features are HF's stored memory, except
    where float32 noise far under 1e-5 puts a value on the other side of a rounding midpoint (one bfloat16 step;
    rounding is monotonic, so the graph's rounded value lies between HF's roundings of pre -/+ the difference)."""
    want, pos = hf_memory(t, feat, high, obj, from_prompt)
    pre, _ = hf_memory(t, feat, high, obj, from_prompt, rounded=False)
    assert np.array_equal(bf16(pre), want)
    diffs = {"features": max_abs_diff(got[0], pre), "pos": max_abs_diff(got[1], pos)}
    assert max(diffs.values()) <= TOL, diffs
    off = bf16(got[0]) != want
    assert off.mean() <= 0.01
    diffs["rounded_differing"] = f"{int(off.sum())}/{off.size}"
    return diffs


def encoder_inputs(S, B, seed):
    """High-res mask logits as HF keeps them (low-res logits upsampled to S, bilinear) and object scores, the last
    object not seen when B > 1."""
    g4 = 4 * configs.grid(S)
    rng = np.random.default_rng(seed)
    low = torch.from_numpy((rng.standard_normal((B, 1, g4, g4)) * 4).astype(np.float32))
    high = torch.nn.functional.interpolate(low, size=(S, S), mode="bilinear", align_corners=False)
    obj = torch.from_numpy(rng.uniform(0.5, 3, (B, 1, 1)).astype(np.float32))
    if B > 1:
        obj[-1] = -2.0
    return high, obj


@pytest.mark.parametrize("key", PRESET_KEYS)
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("from_prompt", [False, True], ids=["tracked", "prompted"])
def test_memory_encoder_equals_hf(key, B, from_prompt, video):
    out, model, feat, _ = video(key)
    S = configs.PRESETS[key].image_size
    high, obj = encoder_inputs(S, B, seed=B)
    feeds = {"tracker_feat_2": feat.numpy(), "high_res_masks": high.numpy(), "object_score_logits": obj.numpy(),
             "mask_from_prompt": np.array([from_prompt])}
    got = run_onnx(os.path.join(out, MEMORY_ENCODER.file), feeds)
    Cm, g = model.tracker_model.mem_dim, configs.grid(S)
    assert got[0].shape == got[1].shape == (B, Cm, g, g)
    print(key, B, from_prompt, check_memory(got, model.tracker_model, feat, high, obj, from_prompt))


def test_memory_encoder_occlusion_embedding_equals_hf(video):
    """The last object is not seen: its memory carries the occlusion embedding, the others' do not."""
    out, model, feat, _ = video("tiny-336")
    t = model.tracker_model
    high, obj = encoder_inputs(configs.PRESETS["tiny-336"].image_size, 3, seed=9)
    args = (feat, high, obj, torch.tensor([False]))
    path = os.path.join(out, MEMORY_ENCODER.file)
    got = run_onnx(path, {n: a.numpy() for n, a in zip(MEMORY_ENCODER.inputs, args)})
    print(check_memory(got, t, feat, high, obj, False))
    seen = hf_memory(t, feat, high, obj.abs(), False, rounded=False)[0]  # as if every object were seen
    assert max_abs_diff(got[0][-1], seen[-1]) > 0.01 and max_abs_diff(got[0][:-1], seen[:-1]) <= TOL


# Memory banks of the HF session: (frame index, number of frames, conditioning frames, tracked frames) -> N, M
BANKS = {
    "N1 M1": (1, 10, [0], []),
    "N3 M4": (12, 20, [0, 10], [3, 11]),
    "N7 M16": (20, 30, [0], list(range(1, 20))),
}
EXPECTED = {"N1 M1": (1, 1), "N3 M4": (3, 4), "N7 M16": (7, 16)}


def session(t, frame, cond, tracked, S, seed):
    """An HF inference session (what _prepare_memory_conditioned_features reads) with random memories."""
    g = configs.grid(S)
    rng = np.random.default_rng(seed)
    r = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(np.float32))
    entry = lambda: {"maskmem_features": r(g * g, 1, t.mem_dim).to(torch.bfloat16),
                     "maskmem_pos_enc": r(g * g, 1, t.mem_dim), "object_pointer": r(1, t.hidden_dim)}
    outputs = {"cond_frame_outputs": {i: entry() for i in cond}, "non_cond_frame_outputs": {i: entry() for i in tracked}}
    return SimpleNamespace(output_dict_per_obj={0: outputs}, dtype=torch.float32)


def gather(t, sess, frame, num_frames):
    """What the caller does before memory attention (HF's order): the graph inputs from the memory bank."""
    out = sess.output_dict_per_obj[0]
    cond, _ = t._select_closest_cond_frames(frame, out["cond_frame_outputs"], t.config.max_cond_frame_num)
    mems = [(0, e) for e in cond.values()]
    mems += [(d, out["non_cond_frame_outputs"][frame - d]) for d in range(t.num_maskmem - 1, 0, -1)
             if frame - d in out["non_cond_frame_outputs"]]
    max_ptrs = min(num_frames, t.config.max_object_pointers_in_encoder)
    ptrs = [(frame - i, e) for i, e in out["cond_frame_outputs"].items() if i <= frame]
    ptrs += [(d, out["non_cond_frame_outputs"][frame - d]) for d in range(1, max_ptrs)
             if frame - d in out["non_cond_frame_outputs"]]
    g = t.backbone_feature_sizes[-1]
    nchw = lambda x: x.float().permute(1, 2, 0).reshape(1, -1, *g)
    return {"memory_features": torch.cat([nchw(e["maskmem_features"]) for _, e in mems]).numpy(),
            "memory_pos_enc": torch.cat([nchw(e["maskmem_pos_enc"]) for _, e in mems]).numpy(),
            "memory_offsets": np.array([d for d, _ in mems], dtype=np.int64),
            "object_pointers": torch.cat([e["object_pointer"] for _, e in ptrs]).numpy(),
            "object_pointer_offsets": np.array([d for d, _ in ptrs], dtype=np.int64),
            "object_pointer_max_offset": np.array([max_ptrs - 1], dtype=np.float32)}


@pytest.mark.parametrize("key", PRESET_KEYS)
@pytest.mark.parametrize("bank", list(BANKS))
def test_memory_attention_equals_hf(key, bank, video):
    out, model, feat, pos = video(key)
    t = model.tracker_model
    S = configs.PRESETS[key].image_size
    frame, num_frames, cond, tracked = BANKS[bank]
    sess = session(t, frame, cond, tracked, S, seed=frame)
    feeds = gather(t, sess, frame, num_frames)
    assert (len(feeds["memory_offsets"]), len(feeds["object_pointer_offsets"])) == EXPECTED[bank]
    feeds.update(tracker_feat_2=feat.numpy(), tracker_pos_2=pos.numpy())
    (got,) = run_onnx(os.path.join(out, MEMORY_ATTENTION.file), feeds)
    seq = lambda x: x.flatten(2).permute(2, 0, 1)
    with torch.no_grad():
        want = t._prepare_memory_conditioned_features(
            inference_session=sess, frame_idx=frame, obj_idx=0, is_initial_conditioning_frame=False,
            current_vision_features=seq(feat), current_vision_positional_embeddings=seq(pos),
            num_total_frames=num_frames).numpy()
    assert got.shape == want.shape == (1, t.hidden_dim, configs.grid(S), configs.grid(S))
    d = max_abs_diff(got, want)
    print(key, bank, d, "scale", float(np.abs(want).max()))
    assert d <= TOL


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_tracker_constants_equal_hf_parameters(key, tmp_path, video):
    _, model, _, _ = video(key)
    t = model.tracker_model
    index = write_tracker_constants(model, str(tmp_path))
    got = read_tracker_constants(str(tmp_path))
    params = dict(t.named_parameters())
    assert set(got) == {name for name, hf in TRACKER_CONSTANTS.values() if hf in params}
    assert "no_obj_embed_spatial" in got and "obj_ptr_tpos_proj.weight" in got
    for name, hf in TRACKER_CONSTANTS.values():
        if hf in params:
            want = params[hf].detach().numpy()
            assert got[name].shape == want.shape and np.array_equal(got[name], want), name
    assert got["maskmem_tpos_enc"].shape == (t.num_maskmem, 1, 1, t.mem_dim)
    assert index["config"]["num_maskmem"] == t.num_maskmem
    offsets = sorted((e["offset"], e["length"]) for e in index["tensors"].values())
    assert offsets[0][0] == 0 and all(a + n == b for (a, n), (b, _) in zip(offsets, offsets[1:]))
    assert os.path.getsize(tmp_path / "onnx" / index["file"]) == sum(n for _, n in offsets)
    # the pack's manifest names them: role trackerConstants, after the graphs' roles, shaped like a graph's entry
    import json
    with open(os.path.join(video(key)[0], "manifest.json")) as f:
        m = json.load(f)
    assert list(m["roles"])[-3:] == ["memoryEncoder", "memoryAttention", "trackerConstants"]
    entry = m["roles"]["trackerConstants"]
    assert entry["file"] == "onnx/tracker_constants.json" and entry["data"] == ["onnx/tracker_constants.bin"]
    assert set(entry["outputs"].values()) == set(got) and entry["outputs"]["maskmemTposEnc"] == "maskmem_tpos_enc"
    assert read_tracker_constants(video(key)[0]).keys() == got.keys()
