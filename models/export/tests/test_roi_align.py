"""The torch roi_align used for the exemplar-box path agrees with onnxruntime's RoiAlign (the exported node)."""
import numpy as np
import torch

from sam3_export.export import run_onnx
from sam3_export.roi_align import roi_align


class _Pool(torch.nn.Module):
    def forward(self, feat, boxes):
        return roi_align(feat, list(boxes.unbind(0)), 7)


def test_roi_align_torch_equals_onnx(tmp_path):
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 5, 24, 20, generator=g)
    # inside, touching the border, partly outside, degenerate (under one pixel), large
    boxes = torch.tensor([[[2.0, 3.0, 10.0, 12.5], [0.0, 0.0, 20.0, 24.0], [-3.0, 18.0, 6.0, 30.0]],
                          [[5.2, 5.2, 5.6, 5.9], [1.5, 2.5, 19.5, 23.0], [12.0, 1.0, 19.9, 8.0]]])
    want = _Pool()(feat, boxes)
    path = str(tmp_path / "pool.onnx")
    torch.onnx.export(_Pool(), (feat, boxes), path, input_names=["feat", "boxes"], output_names=["pooled"],
                      opset_version=17, dynamo=False)
    got = run_onnx(path, {"feat": feat.numpy(), "boxes": boxes.numpy()})[0]
    assert got.shape == tuple(want.shape) == (6, 5, 7, 7)
    # float32 sums in another order: about 1e-6 on values of about 1
    assert float(np.abs(got - want.numpy()).max()) <= 1e-5
