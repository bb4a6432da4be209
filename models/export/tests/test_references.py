"""The reference generator reproduces HF's processors and post-processing without torchvision.

fixtures/image_references.json holds values of the references that HF's real processors (Sam3Processor with
Sam3ImageProcessorFast on torchvision, Sam3TrackerProcessor) produced for the earlier bundled packs' models (the
separate image detector and tracker, seeds 1 and 2, rebuilt here from their configs): pixel values, token ids,
points in the model frame, raw outputs, post-processed detections and masks (RLEs by their sha256). The
generator's functions, given the same models, must give the same values (within 1e-6 relative) and the same RLEs.
"""
import json
import os

import numpy as np
import pytest
import torch

from sam3_export import inputs, references
from sam3_export.processing import detector_processor, resize_uint8, resize_uint8_float, tracker_processor

FIXTURE = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "image_references.json")))
PACKS = list(FIXTURE)
TOL = 1e-6
# A mask's area may differ by a pixel or two: a pixel whose upsampled probability is 0.5 within float noise.
AREA_TOL = 2


def close(got, want, path=""):
    """Every number of want equals got's within TOL (relative above 1), recursively; strings, bools exactly."""
    if isinstance(want, dict):
        for k, v in want.items():
            close(got[k], v, f"{path}/{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            close(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert abs(got - want) <= TOL * max(1.0, abs(want)), (path, got, want)
    else:
        assert got == want, (path, got, want)


def seeded(cls_model, cls_config, config: dict, seed: int):
    torch.manual_seed(seed)
    return cls_model(cls_config(**config)).eval()


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(os.path.join(os.path.dirname(__file__), "..", "..", "sam3-tiny-336"))


def test_the_scene_file_is_the_drawn_scene():
    assert np.array_equal(np.asarray(references.load_scene()), np.asarray(inputs.scene()))


def test_rle_counts_columns_and_starts_with_zeros():
    m = np.array([[1, 0, 0], [1, 1, 0]], dtype=bool)
    assert references.rle(m) == {"size": [2, 3], "counts": [0, 2, 1, 1, 2]}  # columns [1, 1], [0, 1], [0, 0]
    assert references.rle(~m)["counts"] == [2, 1, 1, 2]


@pytest.mark.parametrize("pack", PACKS)
def test_pixel_values_are_torchvisions_uint8_resize(pack, tokenizer):
    """torchvision's native uint8 kernel (a CPU with AVX2) gives the reference exactly; its float path does not."""
    want = FIXTURE[pack]["detector"]["pixel_values"]
    S = FIXTURE[pack]["detector"]["image_size"]
    image = references.load_scene()
    for resize, exact in ((resize_uint8, True), (resize_uint8_float, False)):
        px = detector_processor(S, tokenizer, resize)(images=image, text="x", return_tensors="pt")["pixel_values"]
        got = references.stats(px.numpy())
        assert (got["mean"] == want["mean"] and got["sample"] == want["sample"]) is exact


@pytest.mark.parametrize("pack", PACKS)
def test_detector_reference_equals_hf_processors(pack, tokenizer):
    from transformers import Sam3Config, Sam3Model
    from sam3_export import roi_align
    roi_align.install()
    fx = FIXTURE[pack]
    model = seeded(Sam3Model, Sam3Config, fx["detector_config"], fx["detector_seed"])
    want = fx["detector"]
    processor = detector_processor(want["image_size"], tokenizer)
    run = references.run_detector(model, processor, references.load_scene())
    got = references.detector_reference(model, processor, references.load_scene(), references.Graphs(None), run)
    close(got, {k: v for k, v in want.items() if not k.startswith("post_threshold")})
    for thr in references.THRESHOLDS:
        w = want[f"post_threshold_{thr}"]
        count, keys, top = references.top_detections(processor, run["out"], run["original_sizes"], thr)
        assert (count, keys) == (w["count"], w["keys"])
        assert len(top) == len(w["top"])
        for (_, score, box, mask), e in zip(top, w["top"]):
            close({"score": score, "box_xyxy": box}, {"score": e["score"], "box_xyxy": e["box_xyxy"]})
            assert abs(int(mask.sum()) - e["mask_area"]) <= AREA_TOL
            if e["mask_rle_sha256"]:
                assert references.digest(references.rle(mask)) == e["mask_rle_sha256"]


@pytest.mark.parametrize("pack", PACKS)
def test_tracker_reference_equals_hf_processors(pack):
    from transformers import Sam3TrackerConfig, Sam3TrackerModel
    fx = FIXTURE[pack]
    model = seeded(Sam3TrackerModel, Sam3TrackerConfig, fx["tracker_config"], fx["tracker_seed"])
    want = dict(fx["tracker"])
    post = want.pop("post_masks")
    got = references.tracker_reference(model, tracker_processor(want["image_size"]), references.load_scene(),
                                       references.Graphs(None))
    close(got, want)
    assert got["post_masks"]["shape"] == post["shape"]
    assert max(abs(a - b) for a, b in zip(got["post_masks"]["areas"], post["areas"])) <= AREA_TOL
    assert references.digest(got["post_masks"]["mask0_rle"]) == post["mask0_rle_sha256"]


def test_cli_writes_the_three_references_from_an_hf_checkpoint(tmp_path):
    """From a pack folder holding only hf/ (the official checkpoint layout: Sam3VideoModel's state dict) and the
    tokenizer, the CLI writes the three files; the image tracker reference is the video tracker on one frame."""
    import shutil
    from safetensors.torch import save_file
    from sam3_export import configs
    video = configs.build_video(configs.PRESETS["tiny-336"])
    pack = tmp_path / "pack"
    (pack / "hf").mkdir(parents=True)
    video.config.save_pretrained(pack / "hf")
    save_file({k: v.contiguous() for k, v in video.state_dict().items()}, str(pack / "hf" / "model.safetensors"))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(os.path.dirname(__file__), "..", "..", "sam3-tiny-336", f), pack / f)
    assert references.main(["--pack", str(pack), "--out", str(tmp_path / "out"), "--no-onnx"]) == 0
    refs = {f: json.load(open(tmp_path / "out" / f))
            for f in ("reference_detector.json", "reference_tracker.json", "reference_video.json")}
    assert refs["reference_video.json"]["cross_checks"] == {"tracker_embeddings_vs_backbone": 0.0,
                                                           "tracker_iou_vs_video_tokens_1_3": 0.0}
    assert refs["reference_tracker.json"]["raw"]["pred_masks"]["shape"] == [1, 1, 3, 96, 96]
    assert refs["reference_video.json"]["video_tracker_decoder"]["outputs"]["object_pointers"]["shape"] == [1, 1, 4, configs.VIDEO_HIDDEN]
    assert refs["reference_video.json"]["memory_attention"]["inputs"]["memory_offsets"] == [0, 1]
    assert refs["reference_video.json"]["memory_attention"]["inputs"]["object_pointer_offsets"] == [8, 1, 7]
    assert refs["reference_detector.json"]["onnx_vision_encoder"] is None
