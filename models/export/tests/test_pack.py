"""A pack is every graph of one Sam3VideoModel: each equals PyTorch in onnxruntime, and a rebuilt tiny pack equals
the bundled one in models/ (graphs' outputs, interfaces, manifest, constants, HF config and tokenizer)."""
import filecmp
import json
import os

import numpy as np
import pytest

from conftest import BUNDLED, PRESET_KEYS
from sam3_export import configs
from sam3_export.export import max_abs_diff, read_tracker_constants, run_onnx
from sam3_export.roles import GRAPH_ROLES

TOL = 1e-6


def bundled(key, *path):
    return os.path.join(BUNDLED, configs.PRESETS[key].name, *path)


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_every_graph_equals_pytorch(key, pack):
    """The exporter's own check, on the example inputs: every graph's outputs within 1e-5 of PyTorch's."""
    _, report, _, _ = pack(key)
    assert list(report) == [r.name for r in GRAPH_ROLES]
    for role, entry in report.items():
        assert entry["data"] == [] and entry["bytes"] > 0, role
        assert max(entry["max_abs_diff_vs_torch"].values()) <= 1e-5, (role, entry)


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_pack_layout(key, pack):
    out, _, _, _ = pack(key)
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    assert m["name"] == configs.PRESETS[key].name and m["imageSize"] == configs.PRESETS[key].image_size
    assert list(m["roles"]) == [r.name for r in GRAPH_ROLES] + ["trackerConstants"]
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert files == sorted([r.file for r in GRAPH_ROLES] + [
        "onnx/tracker_constants.json", "onnx/tracker_constants.bin", "manifest.json", "export_report.json",
        "tokenizer.json", "tokenizer_config.json", "hf/config.json", "hf/model.safetensors"])  # no temporary files


@pytest.mark.parametrize("key", PRESET_KEYS)
@pytest.mark.parametrize("role", GRAPH_ROLES, ids=lambda r: r.name)
def test_rebuilt_graph_matches_bundled(key, role, pack):
    """On the reference inputs (chained through PyTorch from the scene and the reference prompts)."""
    out, _, graphs, _ = pack(key)
    feeds = graphs[role.name].feeds()
    shipped = run_onnx(bundled(key, role.file), feeds)
    mine = run_onnx(os.path.join(out, role.file), feeds)
    assert len(mine) == len(shipped) == len(role.outputs)
    diffs = {}
    for name, a, b in zip(role.outputs, mine, shipped):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        diffs[name] = max_abs_diff(a, b)
    print(key, role.name, diffs)
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_graph_interfaces_match_bundled(key, pack):
    import onnx
    out, _, _, _ = pack(key)

    def io(path):
        m = onnx.load(path, load_external_data=False)
        sig = lambda vs: [(v.name, v.type.tensor_type.elem_type,
                           [d.dim_value if d.HasField("dim_value") else d.dim_param for d in v.type.tensor_type.shape.dim])
                          for v in vs]
        return sig(m.graph.input), sig(m.graph.output)
    for role in GRAPH_ROLES:
        assert io(os.path.join(out, role.file)) == io(bundled(key, role.file)), role.name


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_pack_files_match_bundled(key, pack):
    out, _, _, _ = pack(key)
    with open(os.path.join(out, "manifest.json")) as a, open(bundled(key, "manifest.json")) as b:
        assert json.load(a) == json.load(b)
    with open(os.path.join(out, "hf/config.json")) as a, open(bundled(key, "hf/config.json")) as b:
        mine, theirs = json.load(a), json.load(b)
    mine.pop("transformers_version"), theirs.pop("transformers_version")
    assert mine == theirs
    for f in ("tokenizer.json", "tokenizer_config.json", "onnx/tracker_constants.json", "onnx/tracker_constants.bin"):
        assert filecmp.cmp(os.path.join(out, f), bundled(key, f), shallow=False), f
    mine, theirs = read_tracker_constants(out), read_tracker_constants(bundled(key))
    assert mine.keys() == theirs.keys() and all(np.array_equal(mine[k], theirs[k]) for k in mine)


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_boxes_graph_with_several_boxes_matches_bundled(key, pack):
    """num_boxes is a dynamic axis: three boxes (one negative, one padding) give the bundled graph's outputs."""
    out, _, graphs, _ = pack(key)
    feeds = graphs["detectorDecoderBoxes"].feeds()
    feeds["input_boxes"] = np.array([[[0.25, 0.35, 0.25, 0.33], [0.72, 0.33, 0.31, 0.42], [0.5, 0.5, 0.1, 0.1]]],
                                    dtype=np.float32)
    feeds["input_boxes_labels"] = np.array([[1, 0, -10]], dtype=np.int64)
    shipped = run_onnx(bundled(key, "onnx/detector_decoder_boxes.onnx"), feeds)
    mine = run_onnx(os.path.join(out, "onnx/detector_decoder_boxes.onnx"), feeds)
    assert max(max_abs_diff(a, b) for a, b in zip(mine, shipped)) <= TOL
