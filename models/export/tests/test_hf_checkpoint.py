"""hf/ of a pack is a checkpoint in the official facebook/sam3 layout: Sam3Model, Sam3TrackerModel,
Sam3TrackerVideoModel and Sam3VideoModel each load it with no missing or unexpected keys and the pack's weights;
the image graphs equal what those HF classes, loaded from it, compute."""
import json
import os

import numpy as np
import pytest
import torch

from conftest import PRESET_KEYS
from sam3_export import configs, inputs
from sam3_export.export import max_abs_diff, run_onnx

TOL = 1e-5


def load(cls, path):
    model, info = cls.from_pretrained(path, output_loading_info=True)
    return model.eval(), info


def source_key(cls_name: str, key: str) -> str:
    """The key of Sam3VideoModel's state dict a loaded class's parameter comes from (transformers' mapping of the
    official checkpoint: the image detector is detector_model.*; the trackers are tracker_model.*, with the
    detector's ViT and the tracker neck as their vision encoder)."""
    if cls_name == "Sam3Model":
        return "detector_model." + key
    if cls_name in ("Sam3TrackerModel", "Sam3TrackerVideoModel"):
        if key.startswith("vision_encoder.backbone."):
            return "detector_model." + key
        if key.startswith("vision_encoder.neck."):
            return "tracker_neck." + key[len("vision_encoder.neck."):]
        return "tracker_model." + key
    return key


def test_checkpoint_loads_in_the_four_classes(pack):
    from transformers import Sam3Model, Sam3TrackerModel, Sam3TrackerVideoModel, Sam3VideoModel
    out, _, _, video = pack("tiny-336")
    hf = os.path.join(out, "hf")
    assert sorted(os.listdir(hf)) == ["config.json", "model.safetensors"]
    with open(os.path.join(hf, "config.json")) as f:
        config = json.load(f)
    assert config["model_type"] == "sam3_video" and config["architectures"] == ["Sam3VideoModel"]
    from safetensors import safe_open
    with safe_open(os.path.join(hf, "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    want = video.state_dict()
    assert keys == set(want)
    assert {k.split(".")[0] for k in keys} == {"detector_model", "tracker_model", "tracker_neck"}
    for cls in (Sam3Model, Sam3TrackerModel, Sam3TrackerVideoModel, Sam3VideoModel):
        model, info = load(cls, hf)
        assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), (cls.__name__, info)
        got = model.state_dict()
        for k, v in got.items():
            src = source_key(cls.__name__, k)
            assert src in want and torch.equal(v, want[src]), (cls.__name__, k)
        print(cls.__name__, len(got), "tensors")


def tracker_prompts(S):
    pts, lbl = inputs.point_prompt(S)
    x0, y0, x1, y1 = 0.1 * S, 0.15 * S, 0.4 * S, 0.55 * S
    return {
        "one click": (pts[:, :, :1], lbl[:, :, :1], {}),
        "two points": (pts, lbl, {}),
        "box": (torch.tensor([[[[x0, y0], [x1, y1]]]]), torch.tensor([[[2, 3]]]),
                {"input_boxes": torch.tensor([[[x0, y0, x1, y1]]])}),
    }


@pytest.fixture(scope="module")
def hf_models(pack):
    """The pack's checkpoint loaded as HF Sam3TrackerModel and Sam3TrackerVideoModel."""
    from transformers import Sam3TrackerModel, Sam3TrackerVideoModel
    cache = {}

    def get(key):
        if key not in cache:
            hf = os.path.join(pack(key)[0], "hf")
            cache[key] = load(Sam3TrackerModel, hf)[0], load(Sam3TrackerVideoModel, hf)[0]
        return cache[key]
    return get


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_tracker_vision_encoder_equals_hf(key, pack, hf_models):
    """trackerVisionEncoder = HF Sam3TrackerVideoModel's image features of a frame without memory (levels 0, 1 and
    level 2 + no_memory_embedding, as _single_frame_forward reads them). HF Sam3TrackerModel gives levels 0 and 1
    alike; its level 2 lacks no_memory_embedding, which it adds to the fourth FPN level (g/2, with the official
    config's four scale factors) that it then drops."""
    out, _, graphs, _ = pack(key)
    image_tracker, video_tracker = hf_models(key)
    px = graphs["trackerVisionEncoder"].args[0]
    emb = run_onnx(os.path.join(out, "onnx/tracker_vision_encoder.onnx"), {"pixel_values": px.numpy()})
    sizes = video_tracker.backbone_feature_sizes
    with torch.no_grad():
        feats = video_tracker.get_image_features(px).fpn_hidden_states
        feats[-1] = feats[-1] + video_tracker.no_memory_embedding
        want = [f.permute(1, 2, 0).reshape(1, -1, *s) for f, s in zip(feats, sizes)]
        image = image_tracker.get_image_embeddings(px)
    diffs = [max_abs_diff(a, b) for a, b in zip(emb, want)]
    print(key, diffs)
    assert max(diffs) <= TOL, diffs
    assert max_abs_diff(emb[0], image[0]) <= TOL and max_abs_diff(emb[1], image[1]) <= TOL
    no_mem = image_tracker.no_memory_embedding.detach().reshape(1, -1, 1, 1).numpy()
    assert max_abs_diff(emb[2] - no_mem, image[2]) <= TOL


@pytest.mark.parametrize("key", PRESET_KEYS)
@pytest.mark.parametrize("with_mask", [False, True], ids=["no mask", "mask"])
@pytest.mark.parametrize("prompt", ["one click", "two points", "box"])
def test_tracker_decoders_equal_hf_tracker_model(key, with_mask, prompt, pack, hf_models):
    """trackerDecoder(Mask) = HF Sam3TrackerModel (the image tracker) loaded from the pack's checkpoint, with
    multimask_output=True, on the tracker vision encoder's embeddings: the 3 candidates, their IoU, the object
    score."""
    out, _, graphs, _ = pack(key)
    trk = hf_models(key)[0]
    S = configs.PRESETS[key].image_size
    px = graphs["trackerVisionEncoder"].args[0]
    emb = run_onnx(os.path.join(out, "onnx/tracker_vision_encoder.onnx"), {"pixel_values": px.numpy()})
    pts, lbl, box = tracker_prompts(S)[prompt]
    g4 = 4 * configs.grid(S)
    prev = (np.random.default_rng(1).standard_normal((1, 1, g4, g4)) * 3).astype(np.float32)
    feeds = dict(zip(["image_embeddings_0", "image_embeddings_1", "image_embeddings_2"], emb),
                 input_points=pts.numpy(), input_labels=lbl.numpy())
    kw = dict(box) if box else dict(input_points=pts, input_labels=lbl)
    if with_mask:
        feeds["input_masks"] = prev
        kw["input_masks"] = torch.from_numpy(prev)
    f = "onnx/tracker_decoder_mask.onnx" if with_mask else "onnx/tracker_decoder.onnx"
    iou, masks, obj = run_onnx(os.path.join(out, f), feeds)
    assert iou.shape == (1, 1, 3) and masks.shape == (1, 1, 3, g4, g4) and obj.shape == (1, 1, 1)
    with torch.no_grad():
        o = trk(image_embeddings=[torch.from_numpy(e) for e in emb], multimask_output=True, **kw)
    diffs = {"iou": max_abs_diff(iou, o.iou_scores), "masks": max_abs_diff(masks, o.pred_masks),
             "object_score": max_abs_diff(obj, o.object_score_logits)}
    print(key, prompt, with_mask, diffs)
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_detector_graphs_equal_hf_sam3_model(key, pack):
    """visionEncoder + textEncoder + detectorDecoder = HF Sam3Model (the image detector) loaded from the pack's
    checkpoint, on the scene and the text prompt."""
    from transformers import Sam3Model
    out, _, graphs, _ = pack(key)
    det = load(Sam3Model, os.path.join(out, "hf"))[0]
    px = graphs["visionEncoder"].args[0]
    ids, am = inputs.text_prompt()
    vision = run_onnx(os.path.join(out, "onnx/vision_encoder.onnx"), {"pixel_values": px.numpy()})
    (text,) = run_onnx(os.path.join(out, "onnx/text_encoder.onnx"), {"input_ids": ids.numpy(), "attention_mask": am.numpy()})
    names = [f"fpn_feat_{i}" for i in range(4)] + [f"fpn_pos_{i}" for i in range(4)]
    feeds = dict(zip(names, vision), text_features=text, text_mask=am.numpy())
    got = run_onnx(os.path.join(out, "onnx/detector_decoder.onnx"), feeds)
    with torch.no_grad():
        o = det(pixel_values=px, input_ids=ids, attention_mask=am)
    want = [o.pred_masks, o.pred_boxes, o.pred_logits, o.presence_logits, o.semantic_seg]
    diffs = [max_abs_diff(a, b) for a, b in zip(got, want)]
    print(key, diffs)
    assert max(diffs) <= TOL, diffs
