import json
import os

import numpy as np
import pytest

from sam3_export import inputs
from sam3_export.errors import ExportError
from sam3_export.variants import write_variant

QUIET = lambda s: None  # noqa: E731
ROLES = ["visionEncoder", "textEncoder", "trackerVisionEncoder", "trackerDecoder"]
S = 336


@pytest.fixture(scope="module")
def fp32_pack(tmp_path_factory):
    """A float32 tiny-336 pack of the graphs the checks chain (the vision and text encoders, the tracker)."""
    from sam3_export.export import export_pack
    from sam3_export.sources import load_source
    src = load_source("tiny-336", progress=QUIET)
    out = str(tmp_path_factory.mktemp("fp32"))
    export_pack(src.video, out, name=src.name, description=src.description, tokenizer_dir=src.tokenizer_dir,
                roles=ROLES, check=False, progress=QUIET)
    return out


@pytest.fixture(scope="module")
def variant(fp32_pack, tmp_path_factory):
    made = {}

    def get(dtype):
        if dtype not in made:
            out = str(tmp_path_factory.mktemp(dtype))
            write_variant(fp32_pack, out, dtype, progress=QUIET)
            made[dtype] = out
        return made[dtype]
    return get


def session(pack, role):
    import onnxruntime as ort
    with open(os.path.join(pack, "manifest.json")) as f:
        entry = json.load(f)["roles"][role]
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(os.path.join(pack, entry["file"]), so, providers=["CPUExecutionProvider"])


def run(pack, role, feeds):
    """Run a role as the Node engine does: float inputs cast to what the graph declares, outputs read as float32."""
    sess = session(pack, role)
    want = {i.name: i.type for i in sess.get_inputs()}
    cast = {k: v.astype(np.float16) if want[k] == "tensor(float16)" else v for k, v in feeds.items() if k in want}
    return {o.name: np.asarray(v, dtype=np.float32) for o, v in zip(sess.get_outputs(), sess.run(None, cast))}


def chain(pack) -> dict:
    """The outputs of the pack's graphs on the reference scene and prompts, each graph fed the previous' outputs."""
    px = inputs.pixel_values(S).numpy()
    ids, mask = (t.numpy() for t in inputs.text_prompt())
    pts, labels = (t.numpy() for t in inputs.point_prompt(S))
    out = dict(run(pack, "visionEncoder", {"pixel_values": px}))
    out.update(run(pack, "textEncoder", {"input_ids": ids, "attention_mask": mask}))
    emb = run(pack, "trackerVisionEncoder", {"pixel_values": px})
    out.update(run(pack, "trackerDecoder", dict(emb, input_points=pts, input_labels=labels)))
    return out


def top_mask_iou(a: dict, b: dict) -> float:
    """IoU of the masks (logits > 0) of a's best candidate in a and in b."""
    k = int(np.argmax(a["iou_scores"]))
    ma, mb = a["pred_masks"][0, 0, k] > 0, b["pred_masks"][0, 0, k] > 0
    return float((ma & mb).sum() / max(1, (ma | mb).sum()))


def rel_diff(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(1e-12, np.max(np.abs(a))))


def check_pack_files(fp32_pack, pack, dtype):
    with open(os.path.join(fp32_pack, "manifest.json")) as f:
        want = json.load(f)
    with open(os.path.join(pack, "manifest.json")) as f:
        got = json.load(f)
    assert got.pop("dtype") == dtype and got == want
    for f in ("tokenizer.json", "tokenizer_config.json", "hf/config.json"):
        with open(os.path.join(fp32_pack, f), "rb") as a, open(os.path.join(pack, f), "rb") as b:
            assert a.read() == b.read()
    assert not os.path.exists(os.path.join(pack, "hf", "model.safetensors"))
    assert not [n for n in os.listdir(os.path.join(pack, "onnx")) if n.startswith(".")]  # no temporary left


def test_fp16(fp32_pack, variant):
    pack = variant("fp16")
    check_pack_files(fp32_pack, pack, "fp16")
    for role in ROLES:
        sess = session(pack, role)
        for t in sess.get_inputs() + sess.get_outputs():
            assert t.type in ("tensor(float16)", "tensor(int64)", "tensor(bool)"), (role, t.name, t.type)
    a, b = chain(fp32_pack), chain(pack)
    for name in ("fpn_feat_0", "fpn_feat_1", "fpn_feat_2", "text_features", "iou_scores"):
        assert rel_diff(a[name], b[name]) < 1e-2, name
    assert top_mask_iou(a, b) > 0.99


def test_int8(fp32_pack, variant):
    import onnx
    pack = variant("int8")
    check_pack_files(fp32_pack, pack, "int8")
    ops = {n.op_type for role in ROLES
           for n in onnx.load(os.path.join(pack, f"onnx/{role_file(fp32_pack, role)}")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops and "ConvInteger" not in ops
    a, b = chain(fp32_pack), chain(pack)
    report = {name: rel_diff(a[name], b[name]) for name in ("fpn_feat_2", "text_features", "iou_scores")}
    report["top mask IoU"] = top_mask_iou(a, b)
    print("int8 vs fp32 (max abs diff / max abs):", report)
    # random tiny weights quantize badly (the text features are off by a third of their range): the check is that
    # the pack runs and its masks still overlap the float32 ones
    assert all(np.isfinite(v) for v in report.values()) and report["top mask IoU"] > 0.5


def role_file(pack, role):
    with open(os.path.join(pack, "manifest.json")) as f:
        return os.path.basename(json.load(f)["roles"][role]["file"])


def test_external_data(fp32_pack, tmp_path, monkeypatch):
    """Graphs over the threshold keep their weights in <stem>.onnx_data, named in the manifest."""
    from sam3_export import export
    monkeypatch.setattr(export, "EXTERNAL_DATA_BYTES", 0)
    write_variant(fp32_pack, str(tmp_path), "fp16", progress=QUIET)
    with open(tmp_path / "manifest.json") as f:
        roles = json.load(f)["roles"]
    for role in ROLES:
        stem = os.path.splitext(roles[role]["file"])[0]
        assert roles[role]["data"] == [stem + ".onnx_data"] and (tmp_path / (stem + ".onnx_data")).is_file()
    b = chain(str(tmp_path))
    assert top_mask_iou(chain(fp32_pack), b) > 0.99


def test_a_graph_is_written_whole_or_not_at_all(fp32_pack, tmp_path, monkeypatch):
    import onnx

    def fail(model, path, *args, **kw):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")
    monkeypatch.setattr(onnx, "save_model", fail)
    with pytest.raises(OSError):
        write_variant(fp32_pack, str(tmp_path), "fp16", progress=QUIET)
    assert os.listdir(tmp_path / "onnx") == []


def test_refused(fp32_pack, tmp_path):
    for dtype in ("fp32", "bf16"):
        with pytest.raises(ExportError):
            write_variant(fp32_pack, str(tmp_path), dtype, progress=QUIET)
    with pytest.raises(ExportError):
        write_variant(fp32_pack, fp32_pack, "fp16", progress=QUIET)
