"""Export a pack: build the seeded models, trace each role's wrapper to ONNX, check it in onnxruntime, write the
manifest, the HF configs and the tokenizer files."""
from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from typing import Callable

import numpy as np
import torch

from . import configs, inputs, wrappers
from .manifest import manifest, write_manifest
from .roles import ROLES, Role, IMAGE_PACK_ROLES, VIDEO_ROLES

OPSET = 17
BUNDLED_MODELS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def export_graph(module: torch.nn.Module, args: tuple, path: str, role: Role) -> None:
    """Trace `module` on `args` to ONNX (TorchScript exporter, opset 17: the exporter the bundled packs came from)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, path, input_names=role.inputs, output_names=role.outputs,
                          dynamic_axes=role.dynamic_axes or None, opset_version=OPSET, dynamo=False)


def run_onnx(path: str, feeds: dict) -> list[np.ndarray]:
    """Run a graph on CPU; inputs the graph does not have (pruned at export as unused) are left out."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: np.asarray(v) for k, v in feeds.items() if k in names})


def max_abs_diff(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


class _Graph:
    """One role to export: its wrapper and the example inputs (torch tensors, in the role's input order)."""

    def __init__(self, role: Role, module: torch.nn.Module, args: tuple):
        self.role, self.module, self.args = role, module, args

    def feeds(self) -> dict:
        return {n: a.numpy() for n, a in zip(self.role.inputs, self.args)}


def image_pack_graphs(preset: configs.Preset) -> tuple[list[_Graph], dict]:
    """The seeded models of a tiny pack and the graphs of today's pack layout, with chained example inputs."""
    S = preset.image_size
    det = configs.build_detector(preset)
    trk = configs.build_tracker(preset)
    px = inputs.pixel_values(S)
    ids, am = inputs.text_prompt()
    boxes, box_labels = inputs.box_prompt()
    pts, lbl = inputs.point_prompt(S)
    with torch.no_grad():
        fpn = wrappers.DetectorVision(det)(px)
        text = wrappers.TextEncoder(det)(ids, am)
        emb = wrappers.TrackerVision(trk)(px)
        dec = wrappers.TrackerDecoder(trk, False)(*emb, pts, lbl)
    low = dec[1][:, :, :1]  # the first candidate's low-res logits: a previous mask as a dense prompt
    mask_in = low.reshape(1, 1, low.shape[-2], low.shape[-1])
    graphs = [
        _Graph(ROLES["visionEncoder"], wrappers.DetectorVision(det), (px,)),
        _Graph(ROLES["textEncoder"], wrappers.TextEncoder(det), (ids, am)),
        _Graph(ROLES["detectorDecoder"], wrappers.DetectorDecoder(det, False), (*fpn, text, am)),
        _Graph(ROLES["detectorDecoderBoxes"], wrappers.DetectorDecoder(det, True), (*fpn, text, am, boxes, box_labels)),
        _Graph(ROLES["trackerVisionEncoder"], wrappers.TrackerVision(trk), (px,)),
        _Graph(ROLES["trackerDecoder"], wrappers.TrackerDecoder(trk, False), (*emb, pts, lbl)),
        _Graph(ROLES["trackerDecoderMask"], wrappers.TrackerDecoder(trk, True), (*emb, pts, lbl, mask_in)),
    ]
    return graphs, {"detector": det, "tracker": trk}


def video_pack_graphs(preset: configs.Preset) -> tuple[list[_Graph], dict]:
    """The graphs only the video model gives (the shared backbone, the full tracker decoders), and that model."""
    video = configs.build_video(preset)
    px = inputs.pixel_values(preset.image_size)
    pts, lbl = inputs.point_prompt(preset.image_size)
    backbone = wrappers.Backbone(video)
    with torch.no_grad():
        emb = backbone(px)[8:11]
        prev = wrappers.VideoTrackerDecoder(video, False)(*emb, pts, lbl)[0][:, :, 0]  # [1, 1, 4g, 4g]
    return [
        _Graph(ROLES["backbone"], backbone, (px,)),
        _Graph(ROLES["videoTrackerDecoder"], wrappers.VideoTrackerDecoder(video, False), (*emb, pts, lbl)),
        _Graph(ROLES["videoTrackerDecoderMask"], wrappers.VideoTrackerDecoder(video, True), (*emb, pts, lbl, prev)),
    ], {"video": video}


def copy_tokenizer(src_dir: str, pack_dir: str) -> None:
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(src_dir, f), os.path.join(pack_dir, f))


def write_hf_configs(models: dict, pack_dir: str) -> None:
    hf = os.path.join(pack_dir, "hf")
    os.makedirs(hf, exist_ok=True)
    for key, model in models.items():
        with open(os.path.join(hf, f"{key}_config.json"), "w") as f:
            f.write(model.config.to_json_string())


def write_hf_checkpoints(models: dict, pack_dir: str) -> dict:
    """Save each model as a Hugging Face checkpoint, hf/<key>/ (config.json + model.safetensors), loadable with
    the model class's from_pretrained, so every reference can be regenerated from the pack alone."""
    sizes = {}
    for key, model in models.items():
        dst = os.path.join(pack_dir, "hf", key)
        model.save_pretrained(dst, safe_serialization=True)
        sizes[key] = sum(os.path.getsize(os.path.join(dst, f)) for f in os.listdir(dst))
    return sizes


def export_graphs(graphs: list[_Graph], out_dir: str, check: bool = True,
                  progress: Callable[[str], None] = print) -> dict:
    """Export each graph into out_dir; with check, run it in onnxruntime on its example inputs against PyTorch."""
    report = {}
    for i, g in enumerate(graphs, 1):
        t = time.time()
        path = os.path.join(out_dir, g.role.file)
        export_graph(g.module, g.args, path, g.role)
        entry = {"file": g.role.file, "seconds": round(time.time() - t, 2), "bytes": os.path.getsize(path)}
        if check:
            with torch.no_grad():
                want = g.module(*g.args)
            got = run_onnx(path, g.feeds())
            entry["max_abs_diff_vs_torch"] = {n: max_abs_diff(a, b.numpy()) for n, a, b in zip(g.role.outputs, got, want)}
        report[g.role.name] = entry
        worst = max(entry.get("max_abs_diff_vs_torch", {0: 0}).values())
        progress(f"[{i}/{len(graphs)}] {g.role.name} -> {g.role.file} ({entry['bytes'] / 1e6:.2f} MB, "
                 f"{entry['seconds']:.1f}s" + (f", max |onnx - torch| {worst:.2e})" if check else ")"))
    return report


def export_tiny_pack(preset_key: str, out_dir: str, roles: list[str] | None = None, check: bool = True,
                     tokenizer_dir: str | None = None, video: bool = False, hf_weights: bool = False,
                     progress: Callable[[str], None] = print) -> dict:
    """Rebuild a bundled tiny pack into out_dir; with video, add the video model's graphs (the backbone) and its
    HF config; with hf_weights, also the HF checkpoints (hf/<model>/). Returns per role: seconds, size and (with
    check) the max abs difference of onnxruntime's outputs from PyTorch's on the example inputs."""
    preset = configs.PRESETS[preset_key]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    graphs, models = image_pack_graphs(preset)
    pack_roles = list(IMAGE_PACK_ROLES)
    if video:
        vgraphs, vmodels = video_pack_graphs(preset)
        graphs += vgraphs
        models.update(vmodels)
        pack_roles += VIDEO_ROLES
    progress(f"{preset.name}: models built in {time.time() - t0:.1f}s")
    wanted = [g for g in graphs if roles is None or g.role.name in roles]
    report = export_graphs(wanted, out_dir, check, progress)
    copy_tokenizer(tokenizer_dir or os.path.join(BUNDLED_MODELS, preset.name), out_dir)
    write_hf_configs(models, out_dir)
    if hf_weights:
        sizes = write_hf_checkpoints(models, out_dir)
        progress("HF checkpoints: " + ", ".join(f"hf/{k}/ ({v / 1e6:.1f} MB)" for k, v in sizes.items()))
    write_manifest(out_dir, manifest(preset.name, preset.description, preset.image_size,
                                     [r for r in pack_roles if roles is None or r.name in roles]))
    with open(os.path.join(out_dir, "export_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    progress(f"{preset.name}: done in {time.time() - t0:.1f}s -> {out_dir}")
    return report
