"""The video tracking references (test/reference/<pack>/reference_video_tracking.json): the synthetic clip is drawn
the same every time and as the committed hashes say, the helpers the generator relies on (compressed RLE, the torch
stand-in of HF's cv-utils kernel) do what they claim, and the generator reproduces the committed reference's first
frames on the 336 pack."""
import json
import os

import numpy as np
import pytest
import torch

from conftest import BUNDLED, REPO
from sam3_export import clip, cv_utils, references

PACKS = ["sam3-tiny-336", "sam3-tiny-1008"]


def committed(pack: str) -> dict:
    with open(os.path.join(REPO, "test", "reference", pack, "reference_video_tracking.json")) as f:
        return json.load(f)


def decode_compressed(rle: dict) -> np.ndarray:
    """pycocotools' rleFrString and rleDecode: the [H, W] bool mask of a compressed COCO RLE."""
    s, counts, p = rle["counts"], [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << 5 * k
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << 5 * k
        counts.append(x + counts[-2] if len(counts) > 2 else x)
    h, w = rle["size"]
    flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
    return flat.reshape(w, h).T


# ---------------------------------------------------------------- the clip
def test_the_clip_is_drawn_the_same_every_time():
    spec = clip.load_clip_spec()
    a, b = clip.render_clip(spec), clip.render_clip(spec)
    assert len(a) == spec["frames"] and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].shape == (spec["height"], spec["width"], 3) and a[0].dtype == np.uint8


@pytest.mark.parametrize("pack", PACKS)
def test_the_clip_matches_the_committed_hashes(pack):
    spec = clip.load_clip_spec()
    ref = committed(pack)["clip"]
    assert (ref["spec"], ref["width"], ref["height"], ref["frames"]) == (
        os.path.basename(clip.CLIP_SPEC), spec["width"], spec["height"], spec["frames"])
    assert [clip.frame_sha256(f) for f in clip.render_clip(spec)] == ref["sha256"]


def test_the_clip_follows_its_rules():
    spec = clip.load_clip_spec()
    box, disc, bar, _ = spec["shapes"]
    assert clip.position(box["keyframes"], 0) == (10, 20)
    assert clip.position(box["keyframes"], 1) == (12, 20)  # 10 + floor(100 / 47), 20 + floor(10 / 47)
    assert clip.position(disc["keyframes"], 1) == (117, 28)  # 120 + floor(-104 / 47): floored, not truncated
    assert clip.position(bar["keyframes"], 100) == tuple(bar["keyframes"][-1][1:])
    # a 26 x 26 ellipse: a disc of diameter 26 (its corners and the pixels just off its rim are out)
    mask = clip.shape_mask(disc, 0, spec["width"], spec["height"])
    assert mask[41, 133] and mask[28, 133] and mask[41, 120] and not mask[28, 120] and not mask[29, 121]
    frame = clip.render_frame(spec, 25)
    assert frame[46, 76].tolist() == disc["colour"]  # the disc is drawn over the box
    assert not clip.shape_mask(bar, 20, spec["width"], spec["height"]).any()  # the bar has left the frame
    assert clip.shape_mask(bar, 40, spec["width"], spec["height"]).any()  # and is back


# ---------------------------------------------------------------- helpers
def test_compressed_rle_decodes_to_the_mask():
    rng = np.random.default_rng(0)
    for mask in [rng.random((7, 9)) < 0.5, np.ones((4, 5), bool), np.zeros((3, 2), bool),
                 np.pad(np.ones((40, 50), bool), 30)]:
        rle = references.compressed_rle(mask)
        assert rle["size"] == list(mask.shape) and isinstance(rle["counts"], str)
        assert np.array_equal(decode_compressed(rle), mask)


def bfs_areas(mask: np.ndarray) -> np.ndarray:
    """The area of each pixel's 8-connected component (0 off the mask), by flood fill."""
    h, w = mask.shape
    area = np.zeros((h, w), int)
    seen = np.zeros((h, w), bool)
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        stack, comp = [(y, x)], []
        seen[y, x] = True
        while stack:
            a, b = stack.pop()
            comp.append((a, b))
            for c in range(max(a - 1, 0), min(a + 2, h)):
                for d in range(max(b - 1, 0), min(b + 2, w)):
                    if mask[c, d] and not seen[c, d]:
                        seen[c, d] = True
                        stack.append((c, d))
        for a, b in comp:
            area[a, b] = len(comp)
    return area


def test_connected_components_are_8_connected_with_their_areas():
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(3, 1, 23, 31, generator=g) < torch.tensor([0.3, 0.5, 0.7]).view(3, 1, 1, 1)
    labels, counts = cv_utils.TorchCvUtils.cc_2d(masks.to(torch.uint8), get_counts=True)
    for b in range(3):
        m = masks[b, 0].numpy()
        assert np.array_equal(counts[b, 0].numpy(), bfs_areas(m))
        # one label per component, none off the mask
        lab = labels[b, 0].numpy()
        assert (lab[~m] == 0).all() and (lab[m] > 0).all()
        assert len(np.unique(lab[m])) == len({(int(l), int(a)) for l, a in zip(lab[m], counts[b, 0].numpy()[m])})
    diagonal = torch.eye(4, dtype=torch.uint8)[None, None]
    assert cv_utils.TorchCvUtils.cc_2d(diagonal)[1][0, 0, 0, 0] == 4  # corners touch: one component


def test_greedy_nms_keeps_the_best_of_each_overlapping_group():
    ious = torch.tensor([[1.0, 0.5, 0.05], [0.5, 1.0, 0.2], [0.05, 0.2, 1.0]])
    scores = torch.tensor([0.2, 0.3, 0.1])
    assert cv_utils.greedy_nms(ious, scores, 0.1).tolist() == [1]  # 1 drops 0 (0.5) and 2 (0.2)
    assert cv_utils.greedy_nms(ious, scores, 0.3).tolist() == [1, 2]  # 0.2 is not over 0.3
    assert cv_utils.greedy_nms(ious, scores, 0.5).tolist() == [1, 0, 2]  # over, not at, the threshold


def test_hf_fills_holes_and_removes_sprinkles_with_the_stand_in():
    from transformers.models.sam3_video.modeling_sam3_video import fill_holes_in_mask_scores
    scores = torch.full((1, 1, 12, 12), -1.0)
    scores[..., 2:10, 2:10] = 1.0
    scores[..., 5, 5] = -1.0  # a hole of one pixel
    scores[..., 0, 11] = 1.0  # a sprinkle of one pixel
    with cv_utils.install():
        out = fill_holes_in_mask_scores(scores, max_area=4)
    assert out[0, 0, 5, 5] == 0.1 and out[0, 0, 0, 11] == -0.1
    square = (torch.arange(12)[:, None].sub(5.5).abs() < 4) & (torch.arange(12).sub(5.5).abs() < 4)  # rows, columns 2..9
    assert torch.equal(out[0, 0] > 0, square)


# ---------------------------------------------------------------- the generator
def test_the_generator_reproduces_the_first_frames_of_the_336_reference():
    from sam3_export.video_tracking_reference import video_tracking_reference
    ref = committed("sam3-tiny-336")
    torch.set_grad_enabled(False)
    got = video_tracking_reference(os.path.join(BUNDLED, "sam3-tiny-336"), frames=3, progress=lambda s: None)
    assert got["clip"]["sha256"] == ref["clip"]["sha256"][:3]
    # the click frame has no memory: the same outputs whatever the clip's length
    for g, w in zip(got["tracker"]["clicks"], ref["tracker"]["clicks"]):
        assert g["points_model_frame"] == w["points_model_frame"]
        for go, wo in zip(g["output"]["objects"], w["output"]["objects"]):
            assert go["obj_id"] == wo["obj_id"] and go["token"] == wo["token"]
            assert go["object_score_logit"] == pytest.approx(wo["object_score_logit"], abs=1e-5)
            assert go["iou_score"] == pytest.approx(wo["iou_score"], abs=1e-5)
            if wo["rle"] is not None:
                # speckled masks (random weights): a pixel whose logit is ~0 may flip on another CPU
                assert (decode_compressed(go["rle"]) != decode_compressed(wo["rle"])).mean() < 0.01
    assert [len(got["tracker"]["initial"]), got["tracker"]["refinement_click"]] == [3, None]
    # the detector's first frame: the same queries pass the threshold and NMS
    g, w = got["video"]["forward"]["frames"][0], ref["video"]["forward"]["frames"][0]
    assert g["detections"]["kept_queries"] == w["detections"]["kept_queries"]
    assert g["plan"]["new_obj_ids"] == w["plan"]["new_obj_ids"]
