"""`torchvision.ops.roi_align` for the detector's exemplar-box path, without torchvision.

The SAM 3 detector pools FPN features under each exemplar box with torchvision's roi_align. PyPI's torchvision
wheels are CUDA builds that do not load beside the CPU build of torch, so this module gives the HF code the same
function: a pure-torch forward (torchvision's algorithm: aligned=False, adaptive sampling) and, when traced for
ONNX, one `RoiAlign` node (coordinate_transformation_mode "output_half_pixel", sampling_ratio 0), as torchvision's
own ONNX symbolic emits.
"""
from __future__ import annotations

import math
import types

import torch


def _bilinear(feat: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """feat [C, H, W]; y [P], x [Q] sample coordinates -> [C, P, Q] (torchvision's bilinear_interpolate)."""
    C, H, W = feat.shape
    valid_y = (y >= -1.0) & (y <= H)
    valid_x = (x >= -1.0) & (x <= W)
    y = y.clamp(min=0)
    x = x.clamp(min=0)
    y_low = y.floor().long()
    x_low = x.floor().long()
    y_top = y_low >= H - 1
    x_top = x_low >= W - 1
    y_low = torch.where(y_top, torch.full_like(y_low, H - 1), y_low)
    x_low = torch.where(x_top, torch.full_like(x_low, W - 1), x_low)
    y = torch.where(y_top, y_low.to(y.dtype), y)
    x = torch.where(x_top, x_low.to(x.dtype), x)
    y_high = torch.where(y_top, y_low, y_low + 1)
    x_high = torch.where(x_top, x_low, x_low + 1)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    f_ll = feat[:, y_low][:, :, x_low]
    f_lh = feat[:, y_low][:, :, x_high]
    f_hl = feat[:, y_high][:, :, x_low]
    f_hh = feat[:, y_high][:, :, x_high]
    out = (hy[:, None] * hx[None]) * f_ll + (hy[:, None] * lx[None]) * f_lh + \
          (ly[:, None] * hx[None]) * f_hl + (ly[:, None] * lx[None]) * f_hh
    valid = (valid_y[:, None] & valid_x[None]).to(out.dtype)
    return out * valid


def _roi_align_forward(feat, rois, spatial_scale: float, ph: int, pw: int) -> torch.Tensor:
    out = []
    for r in rois:
        b = int(r[0])  # eager only: the ONNX graph gets the RoiAlign node of `symbolic`
        x1, y1, x2, y2 = (float(v) * spatial_scale for v in r[1:])
        roi_w, roi_h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
        bin_h, bin_w = roi_h / ph, roi_w / pw
        gh, gw = int(math.ceil(roi_h / ph)), int(math.ceil(roi_w / pw))
        iy = torch.arange(ph, dtype=feat.dtype)[:, None] * bin_h + (torch.arange(gh, dtype=feat.dtype)[None] + 0.5) * bin_h / gh
        ix = torch.arange(pw, dtype=feat.dtype)[:, None] * bin_w + (torch.arange(gw, dtype=feat.dtype)[None] + 0.5) * bin_w / gw
        samples = _bilinear(feat[b], (y1 + iy).reshape(-1), (x1 + ix).reshape(-1))  # [C, ph*gh, pw*gw]
        C = samples.shape[0]
        out.append(samples.reshape(C, ph, gh, pw, gw).mean(dim=(2, 4)))
    if not out:
        return feat.new_zeros((0, feat.shape[1], ph, pw))
    return torch.stack(out)


class _RoiAlign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, feat, rois, spatial_scale: float, ph: int, pw: int):
        return _roi_align_forward(feat, rois, spatial_scale, ph, pw)

    @staticmethod
    def symbolic(g, feat, rois, spatial_scale, ph, pw):
        first = g.op("Constant", value_t=torch.tensor([0], dtype=torch.int64))
        column = g.op("Constant", value_t=torch.tensor([1], dtype=torch.int64))
        batch = g.op("Cast", g.op("Squeeze", g.op("Gather", rois, first, axis_i=1), column), to_i=7)  # int64 [K]
        boxes = g.op("Slice", rois, g.op("Constant", value_t=torch.tensor([1])), g.op("Constant", value_t=torch.tensor([5])),
                     g.op("Constant", value_t=torch.tensor([1])))
        return g.op("RoiAlign", feat, boxes, batch, spatial_scale_f=spatial_scale, output_height_i=ph,
                    output_width_i=pw, sampling_ratio_i=0, coordinate_transformation_mode_s="output_half_pixel")


def roi_align(input, boxes, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False):
    """torchvision.ops.roi_align for boxes given as a list of [K_i, 4] xyxy tensors (one per image)."""
    if aligned or sampling_ratio > 0:
        raise ValueError("roi_align here takes aligned=False with adaptive sampling only (what SAM 3 uses)")
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    if isinstance(boxes, torch.Tensor):
        rois = boxes
    else:
        ids = torch.cat([torch.full_like(b[:, :1], i) for i, b in enumerate(boxes)], dim=0)
        rois = torch.cat([ids, torch.cat(list(boxes), dim=0)], dim=1)
    return _RoiAlign.apply(input, rois, float(spatial_scale), int(ph), int(pw))


def install() -> None:
    """Give transformers' SAM 3 module a `torchvision.ops.roi_align` when the real torchvision cannot be loaded."""
    from transformers.models.sam3 import modeling_sam3
    if getattr(modeling_sam3, "torchvision", None) is not None:
        return
    try:
        import torchvision  # noqa: F401
        from torchvision.ops import roi_align as _  # noqa: F401
        modeling_sam3.torchvision = torchvision
    except Exception:
        modeling_sam3.torchvision = types.SimpleNamespace(ops=types.SimpleNamespace(roi_align=roi_align))
