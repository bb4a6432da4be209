"""Half-size packs from a float32 one: float16 (`fp16`) or 8-bit weights (`int8`), graph by graph.

fp16: every float tensor of a graph, its inputs and outputs included, becomes float16 (onnxruntime's
convert_float_to_float16; the operators it blocks, such as RoiAlign, stay float32 between casts). The Node engine
casts float32 inputs to what a graph declares and reads float16 outputs back as float32.
int8: onnxruntime's dynamic quantization of the weights of MatMul / Gemm (and Gather tables) to int8, activations
quantized on the fly; convolutions stay float32 (ORT's CPU ConvInteger takes uint8 weights only) and so do the
inputs and outputs.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from typing import Callable

from .errors import ExportError

DTYPES = ("fp16", "int8")
# A graph whose weights pass this keeps them in <stem>.onnx_data beside it (protobuf stops at 2 GiB).
EXTERNAL_DATA_BYTES = int(1.5 * 2 ** 30)
# Files of a pack that a variant keeps as they are (the HF weights stay out: they are the float32 model's).
COPIED_FILES = ("tokenizer_config.json", "hf/config.json")


def weight_bytes(model) -> int:
    """Bytes of the graph's constants: its initializers and Constant nodes."""
    tensors = list(model.graph.initializer) + [a.t for n in model.graph.node if n.op_type == "Constant"
                                               for a in n.attribute if a.HasField("t")]
    return sum(t.ByteSize() for t in tensors)


def save_graph(model, path: str) -> list[str]:
    """Write `model` to `path` under a temporary name, renamed when complete; a graph whose weights pass
    EXTERNAL_DATA_BYTES keeps them in `<stem>.onnx_data` beside it. Returns the external data files written, as
    paths relative to the graph's folder."""
    import onnx
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    data_name = os.path.splitext(os.path.basename(path))[0] + ".onnx_data"
    external = weight_bytes(model) > EXTERNAL_DATA_BYTES
    with tempfile.TemporaryDirectory(dir=folder, prefix=".save-") as tmp:
        partial = os.path.join(tmp, os.path.basename(path))
        for stale in (path, os.path.join(folder, data_name)):
            if os.path.exists(stale):
                os.remove(stale)
        if external:
            onnx.save_model(model, partial, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=1024)
            os.replace(os.path.join(tmp, data_name), os.path.join(folder, data_name))
        else:
            onnx.save_model(model, partial)
        os.replace(partial, path)
    return [data_name] if external else []


def fp16_graph(src: str):
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16
    return convert_float_to_float16(onnx.load(src), keep_io_types=False)


def int8_graph(src: str):
    """Dynamic quantization of the weights that feed MatMul / Gemm / Gather: int8 (QInt8), per tensor; a MatMul of
    two activations (attention) stays float32."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic
    onnxruntime.set_default_logger_severity(3)  # its constant folding warns of every float16 / integer node
    logging.disable(logging.WARNING)  # quantize_dynamic advises pre-processing on every call
    try:
        with tempfile.TemporaryDirectory(prefix="sam3-int8-") as tmp:
            out = os.path.join(tmp, "graph.onnx")
            quantize_dynamic(src, out, op_types_to_quantize=["MatMul", "Gemm", "Gather"],
                             weight_type=QuantType.QInt8, use_external_data_format=True,
                             extra_options={"MatMulConstBOnly": True})
            return onnx.load(out)
    finally:
        logging.disable(logging.NOTSET)


CONVERT = {"fp16": fp16_graph, "int8": int8_graph}


def write_variant(src_pack_dir: str, out_dir: str, dtype: str, progress: Callable[[str], None] = print) -> dict:
    """A complete pack of `dtype` in out_dir from the float32 pack src_pack_dir: each graph converted, the tracker
    constants, tokenizer and HF config copied, the manifest with "dtype". Returns per role: file, bytes, seconds."""
    if dtype not in CONVERT:
        raise ExportError("bad-option", f"--dtype takes fp32, {', '.join(DTYPES)}")
    if os.path.abspath(src_pack_dir) == os.path.abspath(out_dir):
        raise ExportError("bad-option", "a variant is written to another folder than its float32 pack")
    with open(os.path.join(src_pack_dir, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    os.makedirs(out_dir, exist_ok=True)
    roles = manifest["roles"]
    graphs = [r for r, e in roles.items() if e["file"].endswith(".onnx")]
    report = {}
    for i, role in enumerate(graphs, 1):
        t = time.time()
        entry = roles[role]
        model = CONVERT[dtype](os.path.join(src_pack_dir, entry["file"]))
        folder = os.path.dirname(entry["file"])
        data = save_graph(model, os.path.join(out_dir, entry["file"]))
        del model
        entry.pop("data", None)
        if data:
            entry["data"] = [os.path.join(folder, d) for d in data]
        size = sum(os.path.getsize(os.path.join(out_dir, p)) for p in [entry["file"]] + entry.get("data", []))
        report[role] = {"file": entry["file"], "bytes": size, "seconds": round(time.time() - t, 2)}
        progress(f"[{i}/{len(graphs)}] {role} -> {entry['file']} ({dtype}, {size / 1e6:.2f} MB, "
                 f"{report[role]['seconds']:.1f}s)")
    others = [p for r, e in roles.items() if r not in graphs for p in [e["file"]] + e.get("data", [])]
    for rel in others + [manifest["tokenizer"]["file"]] + list(COPIED_FILES):
        if os.path.isfile(os.path.join(src_pack_dir, rel)):
            os.makedirs(os.path.dirname(os.path.join(out_dir, rel)), exist_ok=True)
            shutil.copyfile(os.path.join(src_pack_dir, rel), os.path.join(out_dir, rel))
    manifest["dtype"] = dtype
    with open(os.path.join(out_dir, "export_report.json"), "w") as f:
        json.dump({"dtype": dtype, "graphs": report}, f, indent=1)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return report
