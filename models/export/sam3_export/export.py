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
from .roles import (ROLES, Role, IMAGE_PACK_ROLES, VIDEO_ROLES, TRACKER_CONSTANTS, TRACKER_CONSTANTS_DATA,
                    TRACKER_CONSTANTS_INDEX)

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
        out = backbone(px)
        emb, feat, pos = out[8:11], out[11], out[12]
        dec = wrappers.VideoTrackerDecoder(video, False)(*emb, pts, lbl)
        prev = dec[0][:, :, 0]  # [1, 1, 4g, 4g]
        S = preset.image_size
        high = torch.nn.functional.interpolate(prev, size=(S, S), mode="bilinear", align_corners=False)
        mem = wrappers.MemoryEncoder(video)(feat, high, dec[2], torch.tensor([True]))
    # memory attention is traced with 3 memory frames and 4 object pointers (both axes dynamic)
    n, m = 3, 4
    mem_args = (feat, pos, mem[0].expand(n, -1, -1, -1).contiguous(), mem[1].expand(n, -1, -1, -1).contiguous(),
                torch.tensor([0, 2, 1]), dec[3][0, 0, :1].expand(m, -1).contiguous(), torch.tensor([1, 2, 3, 4]),
                torch.tensor([15.0]))
    return [
        _Graph(ROLES["backbone"], backbone, (px,)),
        _Graph(ROLES["videoTrackerDecoder"], wrappers.VideoTrackerDecoder(video, False), (*emb, pts, lbl)),
        _Graph(ROLES["videoTrackerDecoderMask"], wrappers.VideoTrackerDecoder(video, True), (*emb, pts, lbl, prev)),
        _Graph(ROLES["memoryEncoder"], wrappers.MemoryEncoder(video), (feat, high, dec[2], torch.tensor([True]))),
        _Graph(ROLES["memoryAttention"], wrappers.MemoryAttention(video), mem_args),
    ], {"video": video}


def tracker_constants(video) -> dict:
    """The video tracker's constants as float32 arrays, by tensor name (see roles.TRACKER_CONSTANTS), and the
    config values the caller needs around the memory graphs."""
    t = video.tracker_model
    params = dict(t.named_parameters())
    tensors = {}
    for name, hf in TRACKER_CONSTANTS.values():
        if hf in params:
            tensors[name] = params[hf].detach().to(torch.float32).numpy()
    c = t.config
    config = {k: getattr(c, k) for k in (
        "num_maskmem", "max_object_pointers_in_encoder", "max_cond_frame_num", "sigmoid_scale_for_mem_enc",
        "sigmoid_bias_for_mem_enc", "enable_occlusion_spatial_embedding",
        "enable_temporal_pos_encoding_for_object_pointers", "multimask_output_in_sam", "multimask_min_pt_num",
        "multimask_max_pt_num", "multimask_output_for_tracking", "memory_encoder_output_channels")}
    config["hidden_size"] = t.hidden_dim
    return {"tensors": tensors, "config": config}


def write_tracker_constants(video, pack_dir: str) -> dict:
    """onnx/tracker_constants.bin (raw little-endian float32, one tensor after the other) and its JSON index
    onnx/tracker_constants.json: {"dtype", "byteOrder", "file", "tensors": {name: {shape, offset, length}}
    (offset and length in bytes), "config": {...}}. Readable without Python."""
    consts = tracker_constants(video)
    index = {"dtype": "float32", "byteOrder": "little", "file": os.path.basename(TRACKER_CONSTANTS_DATA),
             "tensors": {}, "config": consts["config"]}
    offset = 0
    os.makedirs(os.path.join(pack_dir, "onnx"), exist_ok=True)
    with open(os.path.join(pack_dir, TRACKER_CONSTANTS_DATA), "wb") as f:
        for name, a in consts["tensors"].items():
            raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
            index["tensors"][name] = {"shape": list(a.shape), "offset": offset, "length": len(raw)}
            f.write(raw)
            offset += len(raw)
    with open(os.path.join(pack_dir, TRACKER_CONSTANTS_INDEX), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    return index


def tracker_constants_entry(index: dict) -> dict:
    """The manifest's trackerConstants entry: shaped like a graph's (file, data, inputs, outputs), with outputs
    mapping logical names to tensor names of the index."""
    have = index["tensors"]
    return {"file": TRACKER_CONSTANTS_INDEX, "data": [TRACKER_CONSTANTS_DATA], "inputs": {},
            "outputs": {k: name for k, (name, _) in TRACKER_CONSTANTS.items() if name in have}}


def read_tracker_constants(pack_dir: str) -> dict:
    """The constants back from a pack, {tensor name: float32 array} (what a reader in any language does)."""
    with open(os.path.join(pack_dir, TRACKER_CONSTANTS_INDEX)) as f:
        index = json.load(f)
    with open(os.path.join(pack_dir, "onnx", index["file"]), "rb") as f:
        raw = f.read()
    return {n: np.frombuffer(raw[e["offset"]:e["offset"] + e["length"]], dtype="<f4").reshape(e["shape"])
            for n, e in index["tensors"].items()}


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
    extra = {}
    if video:
        index = write_tracker_constants(models["video"], out_dir)
        extra["trackerConstants"] = tracker_constants_entry(index)
        progress(f"tracker constants -> {TRACKER_CONSTANTS_INDEX} ({len(index['tensors'])} tensors)")
    if hf_weights:
        sizes = write_hf_checkpoints(models, out_dir)
        progress("HF checkpoints: " + ", ".join(f"hf/{k}/ ({v / 1e6:.1f} MB)" for k, v in sizes.items()))
    write_manifest(out_dir, manifest(preset.name, preset.description, preset.image_size,
                                     [r for r in pack_roles if roles is None or r.name in roles], extra))
    with open(os.path.join(out_dir, "export_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    progress(f"{preset.name}: done in {time.time() - t0:.1f}s -> {out_dir}")
    return report
