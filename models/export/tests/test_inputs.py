"""The exporter's reference inputs are the prompts of the Node tests' reference JSON."""
import json
import os

import numpy as np
import pytest

from conftest import PRESET_KEYS, REPO
from sam3_export import configs, inputs


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_prompts_are_the_reference_prompts(key):
    ref_dir = os.path.join(REPO, "test", "reference", configs.PRESETS[key].name)
    with open(os.path.join(ref_dir, "reference_detector.json")) as f:
        det = json.load(f)
    with open(os.path.join(ref_dir, "reference_tracker.json")) as f:
        trk = json.load(f)
    ids, mask = inputs.text_prompt()
    assert ids.tolist() == det["input_ids"] and mask.tolist() == det["attention_mask"]
    boxes, labels = inputs.box_prompt()
    assert np.allclose(boxes.numpy(), det["box_prompt"]["input_boxes_cxcywh_norm"]) and labels.tolist() == det["box_prompt"]["labels"]
    pts, lbl = inputs.point_prompt(configs.PRESETS[key].image_size)
    assert np.allclose(pts.numpy(), trk["input_points_model_frame"], atol=1e-4) and lbl.tolist() == trk["labels"]


def test_scene_matches_the_examples_scene():
    from PIL import Image
    shipped = np.asarray(Image.open(os.path.join(REPO, "examples", "scene.png")).convert("RGB"))
    assert np.array_equal(np.asarray(inputs.scene()), shipped)
