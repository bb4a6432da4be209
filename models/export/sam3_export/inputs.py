"""Fixed example inputs: what the graphs are traced with, and the reference inputs of the parity checks.

The scene is drawn here (a red disc, a blue square and a green triangle on grey, 640 x 480), so no image file is
needed; the prompts are those of the reference JSON files of the Node tests.
"""
from __future__ import annotations

import numpy as np
import torch

SCENE_SIZE = (640, 480)  # W, H
# "red circle" in the CLIP BPE, padded to 32 with <|endoftext|>.
RED_CIRCLE_IDS = [49406, 736, 7117, 49407] + [49407] * 28
RED_CIRCLE_MASK = [1, 1, 1, 1] + [0] * 28
# One positive exemplar box, normalised cx, cy, w, h.
BOX_CXCYWH = [[[0.25, 0.35, 0.25, 0.33]]]
BOX_LABELS = [[1]]
# Points in the scene's pixels: inside the disc (positive), inside the square (negative).
POINTS = [[[[160.0, 170.0], [460.0, 160.0]]]]
POINT_LABELS = [[[1, 0]]]


def scene():
    from PIL import Image, ImageDraw
    img = Image.new("RGB", SCENE_SIZE, (128, 128, 128))
    d = ImageDraw.Draw(img)
    d.ellipse([80, 90, 240, 250], fill=(220, 30, 30))
    d.rectangle([360, 60, 560, 260], fill=(30, 60, 220))
    d.polygon([(300, 440), (420, 300), (540, 440)], fill=(30, 200, 60))
    return img


def pixel_values(image_size: int, image=None) -> torch.Tensor:
    """An RGB PIL image (default: the scene) resized to S x S (bilinear), scaled to -1..1: float32 [1, 3, S, S]."""
    from PIL import Image
    img = (scene() if image is None else image).resize((image_size, image_size), Image.BILINEAR)
    a = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)[None]))


def text_prompt() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor([RED_CIRCLE_IDS], dtype=torch.int64), torch.tensor([RED_CIRCLE_MASK], dtype=torch.int64)


def box_prompt() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(BOX_CXCYWH, dtype=torch.float32), torch.tensor(BOX_LABELS, dtype=torch.int64)


def point_prompt(image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The points in model-frame pixels (x * S / W, y * S / H) with their labels."""
    w, h = SCENE_SIZE
    pts = torch.tensor(POINTS, dtype=torch.float32) * torch.tensor([image_size / w, image_size / h])
    return pts, torch.tensor(POINT_LABELS, dtype=torch.int64)
