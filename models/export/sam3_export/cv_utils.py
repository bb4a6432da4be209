"""The two operators of the `kernels-community/cv-utils` kernel, in torch, for HF's Sam3VideoModel.

Without the optional `kernels` package, transformers 5.17.0's modeling_sam3_video.py skips them silently: `nms_masks`
keeps every detection over the score threshold (no NMS), and `_get_connected_components_with_padding` returns counts
that no component is under, so `fill_holes_in_mask_scores` neither fills holes nor removes sprinkles. SAM 3's own
code runs both (its CPU fallbacks: a greedy NMS on the IoU matrix, skimage's 8-connected labelling), and so must the
reference. `install()` puts this stand-in where HF's module keeps the loaded kernel; HF's callers run unchanged.
"""
from __future__ import annotations

from unittest import mock

import torch
import torch.nn.functional as F

# the 8 neighbours of a pixel, as (dy, dx)
NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def connected_components(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """8-connected components of the non-zero pixels of [B, 1, H, W]: (labels, counts), both int32 [B, 1, H, W];
    a component's label is 1 + the flat index of its first pixel, its count the component's area, at each of its
    pixels; background pixels have label 0 and count 0."""
    fg = mask != 0
    B, C, H, W = fg.shape
    none = B * C * H * W  # larger than every pixel index: the label of the background
    index = torch.arange(none, dtype=torch.int64).reshape(B, C, H, W)
    labels = torch.where(fg, index, none)
    while True:
        padded = F.pad(labels, (1, 1, 1, 1), value=none)
        low = labels
        for dy, dx in NEIGHBOURS:
            low = torch.minimum(low, padded[..., 1 + dy:1 + dy + H, 1 + dx:1 + dx + W])
        low = torch.where(fg, low, none)
        # pointer jumping: a label is a pixel of the same component, whose own label is no larger
        flat = torch.cat([low.reshape(-1), torch.tensor([none])])
        jumped = flat[flat[:-1]].reshape(B, C, H, W)
        if torch.equal(jumped, labels):
            break
        labels = jumped
    counts = torch.bincount(torch.where(fg, labels, none).reshape(-1), minlength=none + 1)
    area = torch.where(fg, counts[labels.clamp(max=none)], 0)
    return torch.where(fg, labels + 1, 0).to(torch.int32), area.to(torch.int32)


def greedy_nms(ious: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices kept by greedy NMS on a pairwise IoU matrix, best score first: a candidate is dropped when its IoU with
    a kept one is over the threshold."""
    order = torch.argsort(scores.float(), descending=True, stable=True).tolist()
    kept: list[int] = []
    for i in order:
        if all(float(ious[i, k]) <= iou_threshold for k in kept):
            kept.append(i)
    return torch.tensor(kept, dtype=torch.int64)


class TorchCvUtils:
    """The kernel's interface as HF calls it (cc_2d, generic_nms)."""

    @staticmethod
    def cc_2d(mask: torch.Tensor, get_counts: bool = True):
        labels, counts = connected_components(mask)
        return (labels, counts) if get_counts else labels

    @staticmethod
    def generic_nms(ious: torch.Tensor, scores: torch.Tensor, iou_threshold: float, use_iou_matrix: bool = True):
        if not use_iou_matrix:
            raise ValueError("only the IoU-matrix form is provided")
        return greedy_nms(ious, scores, iou_threshold)


def install():
    """A context manager: HF's Sam3VideoModel runs NMS and hole filling with TorchCvUtils."""
    from transformers.models.sam3_video import modeling_sam3_video
    return mock.patch.object(modeling_sam3_video, "cv_utils_kernel", TorchCvUtils())
