"""The bench's peers (sam3_export.peers) time the same computation in PyTorch and onnxruntime-python: on a complete
tiny pack both runtimes give the same outputs for every scenario, and a variant compared with itself agrees
exactly."""
import json
import os

import numpy as np
import pytest

from conftest import BUNDLED
from sam3_export import configs, peers


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    from sam3_export.export import export_pack
    out = str(tmp_path_factory.mktemp("peers-pack"))
    video = configs.build_video(configs.PRESETS["tiny-336"])
    export_pack(video, out, name="sam3-tiny-336", description="", tokenizer_dir=os.path.join(BUNDLED, "sam3-tiny-336"),
                check=False, hf_weights=True, progress=lambda s: None)
    return out


def test_pytorch_and_onnxruntime_run_the_same_graphs(pack):
    frame = peers.make_frame(pack, None)
    kept = {}
    for runner in (peers.OrtRunner(pack, 1), peers.TorchRunner(peers.load_video(pack, None, None), 1)):
        result, kept[runner.name] = peers.measure(runner, frame, runs=1)
        assert set(result["scenarios"]) == set(peers.SCENARIOS)
        assert all(ms > 0 for ms in result["stages"].values())
    ort, torch = kept["onnxruntime-python"], kept["pytorch-eager"]
    for name, a in ort["backbone"].items():
        assert np.max(np.abs(a - torch["backbone"][name])) < 1e-4, name
    for key in ("detector", "tracker", "video1", "video4"):
        for name, a in ort[key].items():
            assert np.max(np.abs(a - torch[key][name])) < 1e-3, (key, name)


def test_a_variant_compared_with_itself_agrees_exactly(pack, capsys):
    peers.main(["--pack", pack, "--variants", pack, "--runs", "1", "--threads", "1"])
    out = json.loads(capsys.readouterr().out)
    (same,) = [v for k, v in out["variants"].items() if k != "fp32"]
    assert max(same["maxAbsDiff"].values()) == 0
    assert set(same["topMaskIoU"].values()) == {1.0}
