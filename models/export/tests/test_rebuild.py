"""The exporter rebuilds the bundled tiny packs: same graphs' outputs, manifest, HF configs and tokenizer."""
import filecmp
import json
import os

import pytest

from conftest import BUNDLED, PRESET_KEYS
from sam3_export import configs
from sam3_export.export import image_pack_graphs, max_abs_diff, run_onnx
from sam3_export.roles import IMAGE_PACK_ROLES

TOL = 1e-6


@pytest.fixture(scope="module")
def reference_inputs():
    """The reference inputs of every role (chained through PyTorch from the scene and the reference prompts)."""
    cache = {}

    def get(key):
        if key not in cache:
            graphs, _ = image_pack_graphs(configs.PRESETS[key])
            cache[key] = {g.role.name: g.feeds() for g in graphs}
        return cache[key]
    return get


@pytest.mark.parametrize("key", PRESET_KEYS)
@pytest.mark.parametrize("role", IMAGE_PACK_ROLES, ids=lambda r: r.name)
def test_rebuilt_graph_matches_bundled(key, role, rebuilt, reference_inputs):
    out, _ = rebuilt(key)
    feeds = reference_inputs(key)[role.name]
    shipped = run_onnx(os.path.join(BUNDLED, configs.PRESETS[key].name, role.file), feeds)
    mine = run_onnx(os.path.join(out, role.file), feeds)
    assert len(mine) == len(shipped) == len(role.outputs)
    diffs = {}
    for name, a, b in zip(role.outputs, mine, shipped):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        diffs[name] = max_abs_diff(a, b)
    print(key, role.name, diffs)
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_graphs_match_pytorch(key, rebuilt):
    """Every exported graph gives PyTorch's outputs in onnxruntime (the exporter's own check)."""
    _, report = rebuilt(key)
    assert sorted(report) == sorted(r.name for r in IMAGE_PACK_ROLES)
    for role, entry in report.items():
        assert max(entry["max_abs_diff_vs_torch"].values()) <= 1e-5, (role, entry)


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_graph_interfaces_match_bundled(key, rebuilt):
    import onnx
    out, _ = rebuilt(key)

    def io(path):
        m = onnx.load(path, load_external_data=False)
        sig = lambda vs: [(v.name, v.type.tensor_type.elem_type,
                           [d.dim_value if d.HasField("dim_value") else "?" for d in v.type.tensor_type.shape.dim])
                          for v in vs]
        return sig(m.graph.input), sig(m.graph.output)
    for role in IMAGE_PACK_ROLES:
        assert io(os.path.join(out, role.file)) == io(os.path.join(BUNDLED, configs.PRESETS[key].name, role.file)), role.name


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_pack_files_match_bundled(key, rebuilt):
    out, _ = rebuilt(key)
    shipped = os.path.join(BUNDLED, configs.PRESETS[key].name)
    with open(os.path.join(out, "manifest.json")) as a, open(os.path.join(shipped, "manifest.json")) as b:
        assert json.load(a) == json.load(b)
    for f in ("hf/detector_config.json", "hf/tracker_config.json"):
        with open(os.path.join(out, f)) as a, open(os.path.join(shipped, f)) as b:
            mine, theirs = json.load(a), json.load(b)
        mine.pop("transformers_version"), theirs.pop("transformers_version")
        assert mine == theirs, f
    for f in ("tokenizer.json", "tokenizer_config.json"):
        assert filecmp.cmp(os.path.join(out, f), os.path.join(shipped, f), shallow=False), f


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_boxes_graph_with_several_boxes_matches_bundled(key, rebuilt, reference_inputs):
    """num_boxes is a dynamic axis: three boxes (one negative, one padding) give the bundled graph's outputs."""
    import numpy as np
    out, _ = rebuilt(key)
    feeds = dict(reference_inputs(key)["detectorDecoderBoxes"])
    feeds["input_boxes"] = np.array([[[0.25, 0.35, 0.25, 0.33], [0.72, 0.33, 0.31, 0.42], [0.5, 0.5, 0.1, 0.1]]],
                                    dtype=np.float32)
    feeds["input_boxes_labels"] = np.array([[1, 0, -10]], dtype=np.int64)
    name = configs.PRESETS[key].name
    shipped = run_onnx(os.path.join(BUNDLED, name, "onnx/detector_decoder_boxes.onnx"), feeds)
    mine = run_onnx(os.path.join(out, "onnx/detector_decoder_boxes.onnx"), feeds)
    assert max(max_abs_diff(a, b) for a, b in zip(mine, shipped)) <= TOL
