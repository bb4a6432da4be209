"""Export a pack: trace each role's wrapper of one Sam3VideoModel to ONNX, check it in onnxruntime, write the
manifest, the tracker constants, the HF checkpoint (config, optionally weights) and the tokenizer files."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from typing import Callable

import numpy as np
import torch

from . import inputs, wrappers
from .manifest import manifest, write_manifest
from .roles import (GRAPH_ROLES, ROLES, Role, TRACKER_CONSTANTS, TRACKER_CONSTANTS_DATA, TRACKER_CONSTANTS_INDEX,
                    TRACKER_CONSTANTS_ROLE)

OPSET = 17
# A graph whose weights pass this keeps them in <stem>.onnx_data beside it (protobuf stops at 2 GiB).
EXTERNAL_DATA_BYTES = int(1.5 * 2 ** 30)


def image_size(video) -> int:
    """S: the model input is S x S (the ViT's image size)."""
    return video.config.detector_config.vision_config.backbone_config.image_size


def _tensor_key(t) -> tuple:
    from onnx import numpy_helper
    a = numpy_helper.to_array(t)
    return t.data_type, tuple(t.dims), hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _rename_inputs(graph, renames: dict) -> None:
    """Point every use of a renamed tensor (in this graph and its subgraphs) at its new name."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
        for attr in node.attribute:
            for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _rename_inputs(g, renames)
    for out in graph.output:
        if out.name in renames:
            out.name = renames[out.name]


def merge_equal_constants(model) -> int:
    """Keep one copy of equal constant tensors (Constant nodes and initializers of the main graph): tracing
    repeats tables such as HF's RoPE cos / sin in every attention layer. Returns the bytes saved."""
    graph = model.graph
    first, renames, saved, keep = {}, {}, 0, []
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            key = ("node",) + _tensor_key(node.attribute[0].t)
            if key in first:
                renames[node.output[0]] = first[key]
                saved += node.attribute[0].t.ByteSize()
                continue
            first[key] = node.output[0]
        keep.append(node)
    inits = []
    graph_outputs = {o.name for o in graph.output}
    for t in graph.initializer:
        key = ("init",) + _tensor_key(t)
        if key in first and t.name not in graph_outputs:
            renames[t.name] = first[key]
            saved += t.ByteSize()
            continue
        first.setdefault(key, t.name)
        inits.append(t)
    if renames:
        del graph.node[:]
        graph.node.extend(keep)
        del graph.initializer[:]
        graph.initializer.extend(inits)
        _rename_inputs(graph, renames)
    return saved


def weight_bytes(model) -> int:
    """Bytes of a graph's constants: its initializers and Constant nodes."""
    tensors = list(model.graph.initializer) + [a.t for n in model.graph.node if n.op_type == "Constant"
                                               for a in n.attribute if a.HasField("t")]
    return sum(t.ByteSize() for t in tensors)


def save_graph(model, path: str, external: bool | None = None) -> list[str]:
    """Write `model` to `path` under a temporary name, renamed when complete; a graph whose weights pass
    EXTERNAL_DATA_BYTES (or any graph, with external=True) keeps them (initializers and Constant nodes) in
    `<stem>.onnx_data` beside it. Returns the external data files written, as paths relative to the graph's
    folder."""
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    data_name = os.path.splitext(os.path.basename(path))[0] + ".onnx_data"
    if external is None:
        external = weight_bytes(model) > EXTERNAL_DATA_BYTES
    with tempfile.TemporaryDirectory(dir=folder, prefix=".save-") as tmp:
        partial = os.path.join(tmp, os.path.basename(path))
        for stale in (path, os.path.join(folder, data_name)):
            if os.path.exists(stale):
                os.remove(stale)
        if external:
            convert_model_to_external_data(model, all_tensors_to_one_file=True, location=data_name,
                                           size_threshold=1024, convert_attribute=True)
        onnx.save_model(model, partial)
        if external:
            os.chmod(os.path.join(tmp, data_name), 0o644)  # onnx creates it readable by its owner only
            os.replace(os.path.join(tmp, data_name), os.path.join(folder, data_name))
        os.replace(partial, path)
    return [data_name] if external else []


def export_graph(module: torch.nn.Module, args: tuple, path: str, role: Role, external: bool | None = None) -> list[str]:
    """Trace `module` on `args` to ONNX (TorchScript exporter, opset 17), merge equal constants and save it at
    `path` with save_graph (external: as there). Returns the external data files written beside it."""
    import onnx
    module.eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path), prefix=".trace-") as tmp:
        traced = os.path.join(tmp, "graph.onnx")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, traced, input_names=role.inputs, output_names=role.outputs,
                              dynamic_axes=role.dynamic_axes or None, opset_version=OPSET, dynamo=False)
        model = onnx.load(traced)
    merge_equal_constants(model)
    return save_graph(model, path, external)


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


class Graph:
    """One role to export: its wrapper and the example inputs (torch tensors, in the role's input order)."""

    def __init__(self, role: Role, module: torch.nn.Module, args: tuple):
        self.role, self.module, self.args = role, module, args

    def feeds(self) -> dict:
        return {n: a.numpy() for n, a in zip(self.role.inputs, self.args)}


def pack_graphs(video) -> list[Graph]:
    """Every graph of a pack from one Sam3VideoModel, in the manifest's order, with example inputs chained through
    PyTorch from the scene and the reference prompts (the reference inputs of the parity checks)."""
    S = image_size(video)
    det = video.detector_model
    px = inputs.pixel_values(S)
    ids, am = inputs.text_prompt()
    boxes, box_labels = inputs.box_prompt()
    pts, lbl = inputs.point_prompt(S)
    backbone = wrappers.Backbone(video)
    with torch.no_grad():
        out = backbone(px)
        fpn, emb, feat, pos = out[0:8], out[8:11], out[11], out[12]
        text = wrappers.TextEncoder(det)(ids, am)
        low = wrappers.TrackerDecoder(video, False)(*emb, pts, lbl)[1][:, :, :1]
        mask_in = low.reshape(1, 1, low.shape[-2], low.shape[-1])  # a candidate's logits as a previous mask
        dec = wrappers.VideoTrackerDecoder(video, False)(*emb, pts, lbl)
        prev = dec[0][:, :, 0]  # [1, 1, 4g, 4g]
        high = torch.nn.functional.interpolate(prev, size=(S, S), mode="bilinear", align_corners=False)
        mem_in = (feat, high, dec[2], torch.tensor([True]))
        mem = wrappers.MemoryEncoder(video)(*mem_in)
    # memory attention is traced with 3 memory frames and 4 object pointers (both axes dynamic)
    n, m = 3, 4
    mem_args = (feat, pos, mem[0].expand(n, -1, -1, -1).contiguous(), mem[1].expand(n, -1, -1, -1).contiguous(),
                torch.tensor([0, 2, 1]), dec[3][0, 0, :1].expand(m, -1).contiguous(), torch.tensor([1, 2, 3, 4]),
                torch.tensor([15.0]))
    modules = {
        "visionEncoder": (wrappers.Backbone(video, wrappers.DETECTOR_OUTPUTS), (px,)),
        "textEncoder": (wrappers.TextEncoder(det), (ids, am)),
        "detectorDecoder": (wrappers.DetectorDecoder(det, False), (*fpn, text, am)),
        "detectorDecoderBoxes": (wrappers.DetectorDecoder(det, True), (*fpn, text, am, boxes, box_labels)),
        "trackerVisionEncoder": (wrappers.Backbone(video, wrappers.TRACKER_OUTPUTS), (px,)),
        "trackerDecoder": (wrappers.TrackerDecoder(video, False), (*emb, pts, lbl)),
        "trackerDecoderMask": (wrappers.TrackerDecoder(video, True), (*emb, pts, lbl, mask_in)),
        "backbone": (backbone, (px,)),
        "videoTrackerDecoder": (wrappers.VideoTrackerDecoder(video, False), (*emb, pts, lbl)),
        "videoTrackerDecoderMask": (wrappers.VideoTrackerDecoder(video, True), (*emb, pts, lbl, prev)),
        "memoryEncoder": (wrappers.MemoryEncoder(video), mem_in),
        "memoryAttention": (wrappers.MemoryAttention(video), mem_args),
    }
    return [Graph(r, *modules[r.name]) for r in GRAPH_ROLES]


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


def write_hf_checkpoint(video, pack_dir: str, weights: bool) -> int:
    """hf/config.json (the Sam3VideoConfig) and, with weights, hf/model.safetensors with the keys of the official
    facebook/sam3 checkpoint: the state dict of Sam3VideoModel (detector_model.*, tracker_model.* without a vision
    encoder, tracker_neck.*). Sam3Model, Sam3TrackerModel, Sam3TrackerVideoModel and Sam3VideoModel each load it
    with from_pretrained (transformers maps the keys per class; HF's own save_pretrained of the video model writes
    tracker_model.tracker_model.*, which the image classes cannot load). Returns the bytes written."""
    from safetensors.torch import save_file
    hf = os.path.join(pack_dir, "hf")
    os.makedirs(hf, exist_ok=True)
    config = copy.deepcopy(video.config)
    config.architectures = ["Sam3VideoModel"]
    config.save_pretrained(hf)
    files = ["config.json"]
    if weights:
        partial = os.path.join(hf, ".model.safetensors.partial")
        save_file({k: v.detach().contiguous() for k, v in video.state_dict().items()}, partial,
                  metadata={"format": "pt"})
        os.chmod(partial, 0o644)  # safetensors creates it readable by its owner only
        os.replace(partial, os.path.join(hf, "model.safetensors"))
        files.append("model.safetensors")
    return sum(os.path.getsize(os.path.join(hf, f)) for f in files)


def export_graphs(graphs: list[Graph], out_dir: str, check: bool = True,
                  progress: Callable[[str], None] = print, external: bool | None = None) -> dict:
    """Export each graph into out_dir (external: as save_graph's); with check, run it in onnxruntime on its example
    inputs against PyTorch. Returns per role: file, external data files, seconds, bytes and (with check) max |onnx - torch| per output."""
    report = {}
    for i, g in enumerate(graphs, 1):
        t = time.time()
        path = os.path.join(out_dir, g.role.file)
        data = [os.path.join(os.path.dirname(g.role.file), d) for d in export_graph(g.module, g.args, path, g.role, external)]
        entry = {"file": g.role.file, "data": data, "seconds": round(time.time() - t, 2),
                 "bytes": sum(os.path.getsize(os.path.join(out_dir, f)) for f in [g.role.file] + data)}
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


def export_pack(video, out_dir: str, *, name: str, description: str, tokenizer_dir: str,
                roles: list[str] | None = None, check: bool = True, hf_weights: bool = False,
                progress: Callable[[str], None] = print) -> dict:
    """Write a complete pack of one float32 Sam3VideoModel (eval mode) into out_dir: every graph role and the
    tracker constants (or those of `roles`), manifest.json, the tokenizer, hf/config.json (+ hf/model.safetensors
    with hf_weights) and export_report.json. Returns the report: per graph role, its files, seconds, bytes and
    (with check) the max abs difference of onnxruntime's outputs from PyTorch's on the example inputs."""
    unknown = sorted(set(roles or []) - set(ROLES) - {TRACKER_CONSTANTS_ROLE})
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(unknown)}")
    wanted = lambda r: roles is None or r in roles
    t0 = time.time()
    os.makedirs(out_dir, exist_ok=True)
    graphs = [g for g in pack_graphs(video) if wanted(g.role.name)]
    report = export_graphs(graphs, out_dir, check, progress)
    extra = {}
    if wanted(TRACKER_CONSTANTS_ROLE):
        index = write_tracker_constants(video, out_dir)
        extra[TRACKER_CONSTANTS_ROLE] = tracker_constants_entry(index)
        progress(f"tracker constants -> {TRACKER_CONSTANTS_INDEX} ({len(index['tensors'])} tensors)")
    copy_tokenizer(tokenizer_dir, out_dir)
    size = write_hf_checkpoint(video, out_dir, hf_weights)
    progress(f"HF checkpoint -> hf/ ({size / 1e6:.1f} MB{'' if hf_weights else ', config only'})")
    data = {r: e["data"] for r, e in report.items()}
    write_manifest(out_dir, manifest(name, description, image_size(video),
                                     [r for r in GRAPH_ROLES if r.name in report], extra, data))
    with open(os.path.join(out_dir, "export_report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    progress(f"{name}: done in {time.time() - t0:.1f}s -> {out_dir}")
    return report

