"""A pack's model in the layout of a public SAM 3 ONNX export, for the tests of the Node side's readers of them.

    python -m sam3_export.public_layouts --pack DIR --layout onnx-community|usls --out DIR [--dtypes fp32,fp16,...]
                                         [--no-check]

reads the pack's HF checkpoint (hf/, as Sam3VideoModel) and writes the graphs under the public export's file and
tensor names (core/pack/layouts.ts is the Node side's view of the same layouts):
- onnx-community (onnx-community/sam3-tracker-ONNX, as transformers.js loads it): onnx/vision_encoder.onnx
  (pixel_values -> image_embeddings.0..2, the pack's trackerVisionEncoder) and onnx/prompt_encoder_mask_decoder.onnx
  (input_points, input_labels, input_boxes, image_embeddings.0..2 -> iou_scores, pred_masks, object_score_logits:
  HF's prompt encoder with a box, no mask input, the 3 multimask candidates), each with ALL its weights in
  `<file>_data`; precisions by transformers.js's suffixes; config.json and preprocessor_config.json.
- usls (jamjamjon/usls sam3 release): vision-encoder.onnx (images -> fpn_feat_0..2, fpn_pos_2), text-encoder.onnx
  (-> text_features, text_mask bool), geo-encoder-mask-decoder.onnx (the detector decoder with exemplar boxes,
  text_mask bool, no semantic map), tokenizer.json, and the two tracker graphs above as
  tracker-vision-encoder.onnx and tracker-prompt-encoder-mask-decoder.onnx; precisions by a `-<dtype>` suffix.
Every graph but the detector decoder has a dynamic batch (HF's geometry encoder hands roi_align one box tensor per
image, a split that a trace fixes at the traced batch, 1). The precisions are variants.PUBLIC_RECIPES, each converted from the float32 graph;
every one keeps float32 inputs and outputs.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import torch

from . import inputs, wrappers
from .errors import ExportError
from .export import Graph, export_graphs, image_size, save_graph
from .roles import DETECTOR_OUT, FPN_FEATS, FPN_POS, TRACKER_OUT, Role
from .sources import load_pack_model
from .variants import PUBLIC_RECIPES

EMBEDDINGS = ["image_embeddings.0", "image_embeddings.1", "image_embeddings.2"]
PROMPT = ["input_points", "input_labels", "input_boxes"]
USLS_FPN = ["fpn_feat_0", "fpn_feat_1", "fpn_feat_2", "fpn_pos_2"]


def _batch(names, **more) -> dict:
    """Dynamic axes: the batch of every named tensor, plus more {name: {axis: label}}."""
    return {n: {0: "batch_size", **more.get(n, {})} for n in names}


def _tracker_roles(encoder_file: str, decoder_file: str) -> tuple[Role, Role]:
    """HF's two tracker graphs (transformers.js's Sam3TrackerModel): names as onnx-community's."""
    points = {2: "num_points"}
    return (Role("trackerVisionEncoder", encoder_file, ["pixel_values"], EMBEDDINGS,
                 _batch(["pixel_values"] + EMBEDDINGS)),
            Role("trackerDecoder", decoder_file, PROMPT + EMBEDDINGS, TRACKER_OUT,
                 _batch(PROMPT + EMBEDDINGS + TRACKER_OUT, input_points=points, input_labels=points,
                        input_boxes={1: "num_boxes"})))


@dataclass(frozen=True)
class Layout:
    name: str
    roles: tuple  # the float32 graphs (Role: file, tensor names, dynamic axes)
    suffixes: dict  # dtype -> what its files insert before `.onnx`
    external: bool  # every graph keeps its weights in `<file>_data` beside it, however small

    def file(self, role: Role, dtype: str) -> str:
        return role.file[:-len(".onnx")] + self.suffixes[dtype] + ".onnx"


LAYOUTS = {
    "onnx-community": Layout(
        "onnx-community", _tracker_roles("onnx/vision_encoder.onnx", "onnx/prompt_encoder_mask_decoder.onnx"),
        {"fp32": "", "fp16": "_fp16", "q8": "_quantized", "int8": "_int8", "uint8": "_uint8", "q4": "_q4",
         "q4f16": "_q4f16", "bnb4": "_bnb4"}, True),
    "usls": Layout(
        "usls",
        (Role("visionEncoder", "vision-encoder.onnx", ["images"], USLS_FPN, _batch(["images"] + USLS_FPN)),
         Role("textEncoder", "text-encoder.onnx", ["input_ids", "attention_mask"], ["text_features", "text_mask"],
              _batch(["input_ids", "attention_mask", "text_features", "text_mask"])),
         Role("detectorDecoderBoxes", "geo-encoder-mask-decoder.onnx",
              FPN_FEATS + FPN_POS + ["text_features", "text_mask", "input_boxes", "input_boxes_labels"],
              DETECTOR_OUT[:4], {"input_boxes": {1: "num_boxes"}, "input_boxes_labels": {1: "num_boxes"}})) +
        _tracker_roles("tracker-vision-encoder.onnx", "tracker-prompt-encoder-mask-decoder.onnx"),
        {"fp32": "", "fp16": "-fp16", "q8": "-q8", "q4f16": "-q4f16", "bnb4": "-bnb4"}, False),
}


def box_xyxy(image_size: int) -> torch.Tensor:
    """The example box prompt of the tracker decoder: inputs.BOX_CXCYWH as xyxy pixels of the S x S frame."""
    cx, cy, w, h = inputs.BOX_CXCYWH[0][0]
    return torch.tensor([[[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]]]) * image_size


def layout_graphs(video, layout: Layout) -> list[Graph]:
    """The layout's graphs from one Sam3VideoModel, with example inputs chained through PyTorch from the scene and
    the reference prompts (the tracker decoder is traced on a click and a box)."""
    S = image_size(video)
    px = inputs.pixel_values(S)
    ids, am = inputs.text_prompt()
    boxes, box_labels = inputs.box_prompt()
    pts, lbl = inputs.point_prompt(S)
    with torch.no_grad():
        out = wrappers.Backbone(video)(px)
        fpn, emb = out[0:8], out[8:11]
        text = wrappers.TextEncoder(video.detector_model)(ids, am)
    modules = {
        "visionEncoder": (wrappers.Backbone(video, wrappers.DETECTOR_DECODER_INPUTS), (px,)),
        "textEncoder": (wrappers.MaskedTextEncoder(video.detector_model), (ids, am)),
        "detectorDecoderBoxes": (wrappers.BoolMaskDetectorDecoder(video.detector_model),
                                 (*fpn, text, am != 0, boxes, box_labels)),
        "trackerVisionEncoder": (wrappers.Backbone(video, wrappers.TRACKER_OUTPUTS), (px,)),
        "trackerDecoder": (wrappers.BoxTrackerDecoder(video), (pts[:, :, :1], lbl[:, :, :1], box_xyxy(S), *emb)),
    }
    return [Graph(r, *modules[r.name]) for r in layout.roles]


def tracker_config(video) -> dict:
    """config.json of the onnx-community layout: HF's Sam3TrackerConfig of the model's tracker, with what
    transformers.js reads besides (vision_config.num_feature_levels, image_size, its external data flag)."""
    from transformers import Sam3TrackerConfig
    tc = video.config.tracker_config
    config = Sam3TrackerConfig(vision_config=tc.vision_config.to_dict(),
                               prompt_encoder_config=tc.prompt_encoder_config.to_dict(),
                               mask_decoder_config=tc.mask_decoder_config.to_dict())
    config.architectures = ["Sam3TrackerModel"]
    d = config.to_diff_dict()
    d["vision_config"]["num_feature_levels"] = len(tc.vision_config.backbone_feature_sizes)
    d["image_size"] = image_size(video)
    d["transformers.js_config"] = {"use_external_data_format": True}
    return d


def preprocessor_config(S: int) -> dict:
    """preprocessor_config.json of the onnx-community layout: transformers.js's Sam2Processor stretching the image
    to S x S (bilinear), x / 255, then (x - 0.5) / 0.5; no padding."""
    return {"image_processor_type": "Sam2ImageProcessor", "processor_class": "Sam2Processor",
            "size": {"height": S, "width": S}, "do_resize": True, "resample": 2, "do_rescale": True,
            "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5], "do_convert_rgb": True}


def _write_json(path: str, value: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def precisions(layout_name: str, dtypes: list[str] | None) -> list[str]:
    """The precisions asked for (None: all of the layout's), refused unless the layout has each."""
    have = list(LAYOUTS[layout_name].suffixes)
    if dtypes is not None and (not dtypes or any(d not in have for d in dtypes)):
        raise ExportError("bad-arguments", f"the {layout_name} layout has the precisions {', '.join(have)}")
    return have if dtypes is None else dtypes


def write_layout(video, pack_dir: str, layout_name: str, out_dir: str, dtypes: list[str] | None = None,
                 check: bool = True, progress: Callable[[str], None] = print) -> dict:
    """The layout's graphs of `dtypes` (default: all its precisions) and extra files in out_dir. The float32 graphs
    are exported first (into a temporary folder when fp32 is not asked for) and each other precision converted
    from them. Returns {dtype: {file: bytes}} (external data files included)."""
    layout = LAYOUTS[layout_name]
    dtypes = precisions(layout_name, dtypes)
    os.makedirs(out_dir, exist_ok=True)
    sizes = lambda folder, files: {f: os.path.getsize(os.path.join(folder, f)) for f in files}
    report = {}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".fp32-") as tmp:
        fp32_dir = out_dir if "fp32" in dtypes else tmp
        exported = export_graphs(layout_graphs(video, layout), fp32_dir, check, progress, layout.external)
        if "fp32" in dtypes:
            report["fp32"] = sizes(out_dir, [f for e in exported.values() for f in [e["file"]] + e["data"]])
        for dtype in [d for d in dtypes if d != "fp32"]:
            report[dtype] = {}
            for role in layout.roles:
                t = time.time()
                file = layout.file(role, dtype)
                model = PUBLIC_RECIPES[dtype](os.path.join(fp32_dir, role.file))
                data = save_graph(model, os.path.join(out_dir, file), layout.external)
                del model
                report[dtype].update(sizes(out_dir, [file] + [os.path.join(os.path.dirname(file), d) for d in data]))
                progress(f"{role.name} -> {file} ({dtype}, {time.time() - t:.1f}s)")
    if layout_name == "onnx-community":
        _write_json(os.path.join(out_dir, "config.json"), tracker_config(video))
        _write_json(os.path.join(out_dir, "preprocessor_config.json"), preprocessor_config(image_size(video)))
    else:
        shutil.copyfile(os.path.join(pack_dir, "tokenizer.json"), os.path.join(out_dir, "tokenizer.json"))
    return report


def parse_args(argv=None):
    from .cli import UserErrorParser
    p = UserErrorParser(prog="python -m sam3_export.public_layouts", description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", required=True, help="a pack folder with hf/config.json + hf/model.safetensors")
    p.add_argument("--layout", required=True, choices=sorted(LAYOUTS))
    p.add_argument("--out", required=True, help="output folder (made if missing)")
    p.add_argument("--dtypes", default=None, help="comma-separated precisions (default: all of the layout's)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch check of each graph")
    a = p.parse_args(argv)
    a.dtypes = precisions(a.layout, [d.strip() for d in a.dtypes.split(",") if d.strip()] if a.dtypes else None)
    return a


def run(a, progress=lambda s: print(s, flush=True)) -> None:
    t = time.time()
    video = load_pack_model(a.pack)
    report = write_layout(video, a.pack, a.layout, a.out, a.dtypes, not a.no_check, progress)
    for dtype, files in report.items():
        progress(f"{dtype}: {sum(files.values()) / 1e6:.2f} MB in {len(files)} files")
    progress(f"{a.layout}: done in {time.time() - t:.1f}s -> {a.out}")


def main(argv=None) -> int:
    from .cli import guarded
    return guarded(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
