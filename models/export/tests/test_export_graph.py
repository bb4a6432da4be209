"""export_graph: equal constants are merged, the file appears only when complete, and a graph over the size limit
keeps its weights in <stem>.onnx_data beside it."""
import os

import numpy as np
import torch

from sam3_export import export
from sam3_export.export import run_onnx
from sam3_export.roles import Role

ROLE = Role("test", "onnx/test.onnx", ["x"], ["y"])


class _Repeated(torch.nn.Module):
    """Uses one table twice, built twice at trace time (as HF builds RoPE tables per attention layer)."""

    def forward(self, x):
        table = lambda: torch.arange(4096, dtype=torch.float32).reshape(64, 64) / 40960
        return (x @ table()) * 2 + (x @ table()) * 3


def test_equal_constants_are_merged(tmp_path):
    import onnx
    x = torch.randn(2, 64)
    path = str(tmp_path / ROLE.file)
    assert export.export_graph(_Repeated(), (x,), path, ROLE) == []
    big = [t for t in list(onnx.load(path).graph.initializer) + [n.attribute[0].t for n in onnx.load(path).graph.node
                                                                if n.op_type == "Constant"] if t.ByteSize() > 4096 * 4]
    assert len(big) == 1
    assert np.abs(run_onnx(path, {"x": x.numpy()})[0] - _Repeated()(x).numpy()).max() <= 1e-4
    assert sorted(os.listdir(tmp_path / "onnx")) == ["test.onnx"]  # the trace folder is gone


def test_large_graph_keeps_its_weights_beside_it(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "EXTERNAL_DATA_BYTES", 1000)
    x = torch.randn(2, 64)
    path = str(tmp_path / ROLE.file)
    assert export.export_graph(_Repeated(), (x,), path, ROLE) == ["test.onnx_data"]
    assert sorted(os.listdir(tmp_path / "onnx")) == ["test.onnx", "test.onnx_data"]
    assert os.path.getsize(tmp_path / "onnx" / "test.onnx_data") >= 4096 * 4
    assert os.stat(tmp_path / "onnx" / "test.onnx_data").st_mode & 0o777 == 0o644  # readable like the graph
    assert np.abs(run_onnx(path, {"x": x.numpy()})[0] - _Repeated()(x).numpy()).max() <= 1e-4
    monkeypatch.setattr(export, "EXTERNAL_DATA_BYTES", 10 ** 9)
    assert export.export_graph(_Repeated(), (x,), path, ROLE) == []  # a re-export below the limit drops the old data
    assert sorted(os.listdir(tmp_path / "onnx")) == ["test.onnx"]
