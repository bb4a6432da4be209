"""The full tracker decoder graphs (all 4 mask tokens, IoU, object score, object pointers) equal HF
Sam3TrackerVideoModel._single_frame_forward within 1e-5, once the token is chosen as HF chooses it."""
import os

import numpy as np
import pytest
import torch

from conftest import PRESET_KEYS
from sam3_export import configs, inputs
from sam3_export.export import max_abs_diff, run_onnx
from sam3_export.wrappers import NO_OBJECT_SCORE

TOL = 1e-5


@pytest.fixture
def video(pack):
    """(pack folder, the HF video model, the backbone's image embeddings) of a tiny pack."""
    def get(key):
        out, _, graphs, model = pack(key)
        with torch.no_grad():
            emb = graphs["backbone"].module(*graphs["backbone"].args)[8:11]
        return out, model, [e.numpy() for e in emb]
    return get


def stability(m, delta=0.05):
    flat = m.reshape(-1)
    u = (flat > -delta).sum()
    return (flat > delta).sum() / u if u > 0 else 1.0


def choose(masks, iou, obj, pointers, multimask, thresh=0.98):
    """HF's choice of token, from the graph's outputs of all 4 tokens (one object)."""
    best = 1 + int(np.argmax(iou[0, 0, 1:]))
    if multimask:
        m, s, p = masks[0, 0, best], iou[0, 0, 1:], pointers[0, 0, best]
    else:
        stable = stability(masks[0, 0, 0]) >= thresh
        m = masks[0, 0, 0] if stable else masks[0, 0, best]
        s = iou[0, 0, :1] if stable else iou[0, 0, best:best + 1]
        p = pointers[0, 0, 0]
    if obj[0, 0, 0] <= 0:
        m = np.full_like(m, NO_OBJECT_SCORE)
    return m, s, p


def prompts(S):
    pts, lbl = inputs.point_prompt(S)
    x0, y0, x1, y1 = 0.1 * S, 0.15 * S, 0.4 * S, 0.55 * S
    return {
        "one click": (pts[:, :, :1], lbl[:, :, :1], None, True),
        "two points": (pts, lbl, None, False),
        "box": (torch.tensor([[[[x0, y0], [x1, y1]]]]), torch.tensor([[[2, 3]]]), [[[x0, y0, x1, y1]]], False),
    }


@pytest.mark.parametrize("key", PRESET_KEYS)
@pytest.mark.parametrize("with_mask", [False, True], ids=["no mask", "mask"])
@pytest.mark.parametrize("prompt", ["one click", "two points", "box"])
def test_video_tracker_decoder_equals_hf(key, with_mask, prompt, video):
    out, model, emb = video(key)
    S = configs.PRESETS[key].image_size
    pts, lbl, box, multimask = prompts(S)[prompt]
    g4 = 4 * configs.grid(S)
    prev = (np.random.default_rng(0).standard_normal((1, 1, g4, g4)) * 3).astype(np.float32)
    feeds = {"image_embeddings_0": emb[0], "image_embeddings_1": emb[1], "image_embeddings_2": emb[2],
             "input_points": pts.numpy(), "input_labels": lbl.numpy()}
    if with_mask:
        feeds["input_masks"] = prev
    f = "video_tracker_decoder_mask.onnx" if with_mask else "video_tracker_decoder.onnx"
    masks, iou, obj, pointers = run_onnx(os.path.join(out, "onnx", f), feeds)
    assert masks.shape == (1, 1, 4, g4, g4) and iou.shape == (1, 1, 4) and obj.shape == (1, 1, 1)
    assert pointers.shape == (1, 1, 4, configs.VIDEO_HIDDEN)
    kw = dict(input_boxes=torch.tensor(box)) if box else dict(input_points=pts, input_labels=lbl)
    if with_mask:
        kw["input_masks"] = torch.from_numpy(prev)
    with torch.no_grad():
        o = model.tracker_model._single_frame_forward(image_embeddings=[torch.from_numpy(e) for e in emb],
                                                      multimask_output=multimask, **kw)
    m, s, p = choose(masks, iou, obj, pointers, multimask)
    diffs = {"masks": max_abs_diff(m, o.pred_masks[0, 0].numpy()), "iou": max_abs_diff(s, o.iou_scores[0, 0].numpy()),
             "object_score": max_abs_diff(obj, o.object_score_logits.numpy()),
             "pointer": max_abs_diff(p, o.object_pointer[0].numpy())}
    print(key, prompt, "mask" if with_mask else "", diffs, "mask scale", float(np.abs(m).max()))
    assert max(diffs.values()) <= TOL, diffs
    assert diffs["masks"] <= 1e-4 * max(float(np.abs(m).max()), 1e-6)


@pytest.mark.parametrize("case", ["object absent", "stable single mask"])
def test_branches_of_the_choice_equal_hf(case, tmp_path, pack):
    """The tiny random tracker always sees the object and its single-mask logits are never stable: change its
    weights so that the other branches run (no-object pointer and -1024 masks; token 0 kept)."""
    import copy
    from sam3_export.roles import ROLES
    from sam3_export.wrappers import VideoTrackerDecoder
    from sam3_export.export import export_graph
    preset = configs.PRESETS["tiny-336"]
    _, _, graphs, video_model = pack("tiny-336")
    model = copy.deepcopy(video_model)
    t = model.tracker_model
    with torch.no_grad():
        emb = graphs["backbone"].module(*graphs["backbone"].args)[8:11]
        if case == "object absent":
            t.mask_decoder.pred_obj_score_head.proj_out.bias -= 10.0
            t.no_object_pointer.copy_(torch.randn(t.no_object_pointer.shape, generator=torch.Generator().manual_seed(5)))
        else:
            t.mask_decoder.output_hypernetworks_mlps[0].proj_out.weight *= 1e6
            t.mask_decoder.output_hypernetworks_mlps[0].proj_out.bias *= 1e6
    pts, lbl = inputs.point_prompt(preset.image_size)
    role = ROLES["videoTrackerDecoder"]
    path = str(tmp_path / "d.onnx")
    export_graph(VideoTrackerDecoder(model, False), (*emb, pts, lbl), path, role)
    masks, iou, obj, pointers = run_onnx(path, {n: a.numpy() for n, a in zip(role.inputs, (*emb, pts, lbl))})
    if case == "object absent":
        assert obj[0, 0, 0] < 0
    else:
        assert stability(masks[0, 0, 0]) >= 0.98
    with torch.no_grad():
        o = t._single_frame_forward(image_embeddings=list(emb), input_points=pts, input_labels=lbl, multimask_output=False)
    m, s, p = choose(masks, iou, obj, pointers, multimask=False)
    if case == "object absent":
        assert np.all(m == NO_OBJECT_SCORE) and max_abs_diff(p, t.no_object_pointer[0].detach().numpy()) == 0
    diffs = [max_abs_diff(m, o.pred_masks[0, 0].numpy()), max_abs_diff(s, o.iou_scores[0, 0].numpy()),
             max_abs_diff(obj, o.object_score_logits.numpy()), max_abs_diff(p, o.object_pointer[0].numpy())]
    print(case, diffs, float(np.abs(m).max()))
    assert diffs[0] <= 1e-4 * float(np.abs(m).max()) and max(diffs[1:]) <= TOL, diffs
