"""Half-size packs from a float32 one: float16 (`fp16`) or 8-bit weights (`int8`), graph by graph.

fp16: every float tensor of a graph, its inputs and outputs included, becomes float16 (onnxruntime's
convert_float_to_float16; the operators it blocks, such as RoiAlign, stay float32 between casts). The Node engine
casts float32 inputs to what a graph declares and reads float16 outputs back as float32.
int8: onnxruntime's dynamic quantization of the weights of MatMul / Gemm (and Gather tables) to int8, activations
quantized on the fly; convolutions stay float32 (ORT's CPU ConvInteger takes uint8 weights only) and so do the
inputs and outputs.
PUBLIC_RECIPES: the precisions of the public exports' layouts (public_layouts.py), by transformers.js's and usls's
dtype names, all with float32 inputs and outputs: fp16, q8 / uint8 (QUInt8) and int8 (QInt8) dynamic quantization
of MatMul / Gemm weights, q4 (MatMulNBits, blocks of 32), q4f16 (q4 of the fp16 graph), bnb4 (MatMulBnb4, NF4).
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
from .export import save_graph
from .manifest import write_manifest

# Files of a pack that a variant keeps as they are (the HF weights stay out: they are the float32 model's).
COPIED_FILES = ("tokenizer_config.json", "hf/config.json")


def _load(src):
    """A graph from a path (its external data beside it) or an already loaded ModelProto."""
    import onnx
    return onnx.load(src) if isinstance(src, str) else src


def fp16_graph(src, keep_io_types: bool = False):
    """Every float tensor in float16; with keep_io_types the inputs and outputs stay float32 (cast in the graph)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16
    return convert_float_to_float16(_load(src), keep_io_types=keep_io_types)


def dynamic_quant_graph(src: str, weight_type: str, op_types=("MatMul", "Gemm")):
    """onnxruntime's dynamic quantization of the constant weights that feed `op_types` to `weight_type` (int8:
    QInt8, uint8: QUInt8), per tensor; a MatMul of two activations (attention) stays float32."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic
    onnxruntime.set_default_logger_severity(3)  # its constant folding warns of every float16 / integer node
    logging.disable(logging.WARNING)  # quantize_dynamic advises pre-processing on every call
    try:
        with tempfile.TemporaryDirectory(prefix="sam3-quant-") as tmp:
            out = os.path.join(tmp, "graph.onnx")
            quantize_dynamic(src, out, op_types_to_quantize=list(op_types),
                             weight_type={"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}[weight_type],
                             use_external_data_format=True, extra_options={"MatMulConstBOnly": True})
            return onnx.load(out)
    finally:
        logging.disable(logging.NOTSET)


def int8_graph(src: str):
    """Dynamic int8 (QInt8) quantization of the weights that feed MatMul / Gemm / Gather."""
    return dynamic_quant_graph(src, "int8", ("MatMul", "Gemm", "Gather"))


Q4_BLOCK = 32
BNB4_BLOCK = 64  # the block of bitsandbytes' Linear4bit, which MatMulBnb4 mirrors


def q4_graph(src, block_size: int = Q4_BLOCK):
    """Every MatMul with a constant 2-D weight as MatMulNBits (4 bits, blocks of block_size along K, asymmetric:
    onnxruntime's MatMulNBitsQuantizer defaults). A weight whose K is under the block is padded with zeros to one
    block (the quantizer's own padding; the kernel reads K from the node)."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    logging.disable(logging.WARNING)
    try:
        q = MatMulNBitsQuantizer(_load(src), block_size=block_size, is_symmetric=False)
        q.process()
        return q.model.model
    finally:
        logging.disable(logging.NOTSET)


def bnb4_graph(src, block_size: int = BNB4_BLOCK):
    """Every MatMul with a constant 2-D weight as MatMulBnb4 (NF4, blocks of block_size over the flattened
    weight): onnxruntime's MatMulBnb4Quantizer."""
    from onnxruntime.quantization.matmul_bnb4_quantizer import MatMulBnb4Quantizer
    q = MatMulBnb4Quantizer(_load(src), MatMulBnb4Quantizer.NF4, block_size)
    q.process()
    return q.model.model


# The precisions of the public exports (transformers.js's and usls's dtype names): float32 inputs and outputs in all.
PUBLIC_RECIPES = {
    "fp16": lambda src: fp16_graph(src, keep_io_types=True),
    "q8": lambda src: dynamic_quant_graph(src, "uint8"),
    "int8": lambda src: dynamic_quant_graph(src, "int8"),
    "uint8": lambda src: dynamic_quant_graph(src, "uint8"),
    "q4": q4_graph,
    "q4f16": lambda src: q4_graph(fp16_graph(src, keep_io_types=True)),
    "bnb4": bnb4_graph,
}


CONVERT = {"fp16": fp16_graph, "int8": int8_graph}


def write_variant(src_pack_dir: str, out_dir: str, dtype: str, progress: Callable[[str], None] = print) -> dict:
    """A complete pack of `dtype` in out_dir from the float32 pack src_pack_dir: each graph converted, the tracker
    constants, tokenizer and HF config copied, the manifest with "dtype". Returns per role: file, bytes, seconds."""
    if dtype not in CONVERT:
        raise ExportError("bad-option", f"--dtype takes fp32, {', '.join(CONVERT)}")
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
    write_manifest(out_dir, manifest)
    return report
