"""The synthetic clip of the video tracking references (test/reference/video_clip.json), drawn with integer
arithmetic only, so that test/support/synthetic-clip.ts draws the same bytes. The spec's description states the
rules."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CLIP_SPEC = os.path.join(REPO, "test", "reference", "video_clip.json")


def load_clip_spec(path: str = CLIP_SPEC) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def position(keyframes: list, t: int) -> tuple[int, int]:
    """The shape's top-left corner on frame t: linear between keyframes, floored (Python's // floors as
    Math.floor does)."""
    if t <= keyframes[0][0]:
        return keyframes[0][1], keyframes[0][2]
    for (t0, x0, y0), (t1, x1, y1) in zip(keyframes, keyframes[1:]):
        if t <= t1:
            return x0 + (x1 - x0) * (t - t0) // (t1 - t0), y0 + (y1 - y0) * (t - t0) // (t1 - t0)
    return keyframes[-1][1], keyframes[-1][2]


def shape_mask(shape: dict, t: int, width: int, height: int) -> np.ndarray:
    """[height, width] bool: the pixels the shape covers on frame t (clipped to the frame)."""
    x, y = position(shape["keyframes"], t)
    w, h = shape["size"]
    px = np.arange(width, dtype=np.int64)[None, :]
    py = np.arange(height, dtype=np.int64)[:, None]
    inside = (px >= x) & (px < x + w) & (py >= y) & (py < y + h)
    if shape["kind"] == "ellipse":
        inside &= (2 * px + 1 - 2 * x - w) ** 2 * h * h + (2 * py + 1 - 2 * y - h) ** 2 * w * w <= w * w * h * h
    elif shape["kind"] != "rectangle":
        raise ValueError(f"unknown shape kind {shape['kind']!r}")
    return inside


def render_frame(spec: dict, t: int) -> np.ndarray:
    """Frame t as uint8 [height, width, 3] RGB."""
    w, h = spec["width"], spec["height"]
    rgb = np.empty((h, w, 3), dtype=np.uint8)
    rgb[:] = spec["background"]
    for shape in spec["shapes"]:
        rgb[shape_mask(shape, t, w, h)] = shape["colour"]
    return rgb


def render_clip(spec: dict) -> list[np.ndarray]:
    return [render_frame(spec, t) for t in range(spec["frames"])]


def frame_sha256(rgb: np.ndarray) -> str:
    """sha256 of a frame's raw RGB bytes (row-major, 3 bytes a pixel)."""
    return hashlib.sha256(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()).hexdigest()
