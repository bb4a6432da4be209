"""hf/<model>/ checkpoints load with the HF classes' from_pretrained and hold the seeded weights."""
import os

import torch

from sam3_export import configs
from sam3_export.export import write_hf_checkpoints


def test_checkpoints_load_with_from_pretrained(tmp_path):
    from transformers import Sam3Model, Sam3TrackerModel, Sam3VideoModel
    preset = configs.PRESETS["tiny-336"]
    models = {"detector": configs.build_detector(preset), "tracker": configs.build_tracker(preset),
              "video": configs.build_video(preset)}
    sizes = write_hf_checkpoints(models, str(tmp_path))
    assert set(sizes) == {"detector", "tracker", "video"}
    for key, cls in (("detector", Sam3Model), ("tracker", Sam3TrackerModel), ("video", Sam3VideoModel)):
        path = os.path.join(str(tmp_path), "hf", key)
        assert sorted(os.listdir(path)) == ["config.json", "model.safetensors"]
        loaded = cls.from_pretrained(path).eval()
        want = models[key].state_dict()
        got = loaded.state_dict()
        assert sorted(got) == sorted(want), key
        assert all(torch.equal(got[k], want[k]) for k in want), key
