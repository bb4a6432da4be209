"""The public layouts (public_layouts.py) of the bundled tiny-336 pack: their files, tensor names and types, external
data; every float32 graph equals HF's classes loaded from the pack's checkpoint (the tracker's prompts: one click,
two points, a box with zero points, a box and a click; the usls detector with a box and with usls's no-box dummy;
a batch of two); every precision opens in onnxruntime with float32 inputs and outputs, and its masks agree with
float32's."""
import json
import os

import numpy as np
import pytest
import torch

from sam3_export import inputs
from sam3_export.export import max_abs_diff
from sam3_export.public_layouts import LAYOUTS, box_xyxy, load_pack_model, main, write_layout

PACK = os.path.join(os.path.dirname(__file__), "..", "..", "sam3-tiny-336")
S = 336
TOL = 1e-5
EMB = ["image_embeddings.0", "image_embeddings.1", "image_embeddings.2"]
INT64 = {"input_labels", "input_ids", "attention_mask", "input_boxes_labels"}
# What each precision puts in the graph, and what it must not leave there.
QUANT_OPS = {"fp16": ({"Cast"}, set()), "q8": ({"MatMulInteger", "DynamicQuantizeLinear"}, set()),
             "int8": ({"MatMulInteger", "DynamicQuantizeLinear"}, set()),
             "uint8": ({"MatMulInteger", "DynamicQuantizeLinear"}, set()),
             "q4": ({"MatMulNBits"}, {"MatMulInteger"}), "q4f16": ({"MatMulNBits", "Cast"}, set()),
             "bnb4": ({"MatMulBnb4"}, {"MatMulNBits"})}
# Top mask IoU of a precision with float32 (the tiny random model's mask logits are ~1e-3, so every error counts).
# bnb4 quantizes the prompt encoder's point positional-encoding matrices (K = 2, Gaussian frequencies; NF4 blocks of
# 64 over the flattened weight) by about a tenth of their range, which moves every click: 0.73 here (0.92 without
# those three MatMuls). q4 keeps them nearly exact (its blocks run along K: a column of 2 values padded to 32).
MIN_IOU = {"bnb4": 0.6}
MIN_DETECTOR_IOU = 0.85  # usls's geo-encoder-mask-decoder: 0.90 (bnb4) to 1.0 (fp16) here


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Both layouts of the pack in every precision, the model they come from and HF's classes from its hf/."""
    from transformers import Sam3Model, Sam3TrackerModel
    from sam3_export import roi_align
    roi_align.install()
    video = load_pack_model(PACK)
    out = {}
    for name in LAYOUTS:
        folder = str(tmp_path_factory.mktemp(name))
        out[name] = (folder, write_layout(video, PACK, name, folder, check=False, progress=lambda s: None))
    hf = os.path.join(PACK, "hf")
    return out, Sam3TrackerModel.from_pretrained(hf).eval(), Sam3Model.from_pretrained(hf).eval()


def session(folder, file):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(os.path.join(folder, file), so, providers=["CPUExecutionProvider"])


def run(folder, file, feeds) -> dict:
    s = session(folder, file)
    names = {i.name for i in s.get_inputs()}
    got = s.run(None, {k: np.asarray(v) for k, v in feeds.items() if k in names})
    return {o.name: g for o, g in zip(s.get_outputs(), got)}


def roles(name):
    return {r.name: r for r in LAYOUTS[name].roles}


def expected_files(name):
    layout = LAYOUTS[name]
    graphs = [layout.file(r, d) for d in layout.suffixes for r in layout.roles]
    data = [g + "_data" for g in graphs] if layout.external else []
    extra = ["config.json", "preprocessor_config.json"] if name == "onnx-community" else ["tokenizer.json"]
    return sorted(graphs + data + extra)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_files_names_types_and_external_data(name, built):
    import onnx
    from onnx.external_data_helper import uses_external_data
    folder, report = built[0][name]
    files = sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)
    assert files == expected_files(name)  # nothing else: no temporary folder or file left
    layout = LAYOUTS[name]
    assert set(report) == set(layout.suffixes)
    for dtype in layout.suffixes:
        for role in layout.roles:
            file = layout.file(role, dtype)
            assert report[dtype][file] == os.path.getsize(os.path.join(folder, file))
            model = onnx.load(os.path.join(folder, file), load_external_data=False)
            io = list(model.graph.input) + list(model.graph.output)
            assert [t.name for t in model.graph.output] == role.outputs, (file, dtype)
            assert [t.name for t in model.graph.input] == [n for n in role.inputs if n in {t.name for t in model.graph.input}]
            for t in io:
                want = (onnx.TensorProto.BOOL if t.name == "text_mask" else
                        onnx.TensorProto.INT64 if t.name in INT64 else onnx.TensorProto.FLOAT)
                assert t.type.tensor_type.elem_type == want, (file, t.name)
            for t in model.graph.input:
                dims = t.type.tensor_type.shape.dim
                # a dynamic batch, but in the detector decoder (1: see public_layouts)
                batch = role.name != "detectorDecoderBoxes"
                assert bool(dims[0].dim_param) == batch and (batch or dims[0].dim_value == 1), (file, t.name)
                for axis in role.dynamic_axes.get(t.name, {}):
                    assert dims[axis].dim_param, (file, t.name, axis)
            big = [t for t in model.graph.initializer if len(t.raw_data) > 1024 or uses_external_data(t)]
            external = [t for t in model.graph.initializer if uses_external_data(t)]
            if layout.external:  # every weight beyond 1 kB in <file>_data
                assert big and external == big, file
                where = {e.value for t in external for e in t.external_data if e.key == "location"}
                assert where == {os.path.basename(file) + "_data"}
            else:
                assert not external
    if name == "usls":
        assert os.path.getsize(os.path.join(folder, "tokenizer.json")) == os.path.getsize(os.path.join(PACK, "tokenizer.json"))


def test_onnx_community_configs(built):
    folder = built[0]["onnx-community"][0]
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(folder, "preprocessor_config.json")) as f:
        pre = json.load(f)
    assert config["model_type"] == "sam3_tracker" and config["image_size"] == S
    assert config["vision_config"]["num_feature_levels"] == 3
    assert config["transformers.js_config"] == {"use_external_data_format": True}
    assert config["prompt_encoder_config"]["image_size"] == S
    assert pre["image_processor_type"] == "Sam2ImageProcessor" and pre["processor_class"] == "Sam2Processor"
    assert pre["size"] == {"height": S, "width": S} and pre["do_resize"] and pre["do_normalize"]
    assert pre["rescale_factor"] == 1 / 255 and pre["image_mean"] == pre["image_std"] == [0.5] * 3
    assert "do_pad" not in pre


def tracker_cases():
    pts, lbl = inputs.point_prompt(S)
    none_pts, none_lbl, no_box = torch.zeros(1, 1, 0, 2), torch.zeros(1, 1, 0, dtype=torch.int64), torch.zeros(1, 0, 4)
    box = box_xyxy(S)
    return {"one click": (pts[:, :, :1], lbl[:, :, :1], no_box), "two points": (pts, lbl, no_box),
            "box, zero points": (none_pts, none_lbl, box), "box and a click": (pts[:, :, :1], lbl[:, :, :1], box)}


def hf_embeddings(tracker, px):
    """HF's embeddings of a frame without memory: Sam3TrackerModel's, with the no-memory embedding on level 2 (see
    test_hf_checkpoint.test_tracker_vision_encoder_equals_hf)."""
    with torch.no_grad():
        e = tracker.get_image_embeddings(px)
        return [e[0], e[1], e[2] + tracker.no_memory_embedding.reshape(1, -1, 1, 1)]


def hf_tracker(tracker, emb, pts, lbl, boxes):
    """HF Sam3TrackerModel, multimask: an empty point or box tensor is given as None."""
    kw = dict(input_points=pts, input_labels=lbl) if pts.shape[2] else {}
    if boxes.shape[1]:
        kw["input_boxes"] = boxes
    with torch.no_grad():
        o = tracker(image_embeddings=emb, multimask_output=True, **kw)
    return {"iou_scores": o.iou_scores, "pred_masks": o.pred_masks, "object_score_logits": o.object_score_logits}


def two_images():
    px = inputs.pixel_values(S)
    return torch.cat([px, px.flip(-1)])


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_tracker_graphs_equal_hf(name, built):
    folder = built[0][name][0]
    tracker = built[1]
    r = roles(name)
    px = two_images()
    want_emb = hf_embeddings(tracker, px)
    emb = run(folder, r["trackerVisionEncoder"].file, {"pixel_values": px.numpy()})
    assert max(max_abs_diff(emb[n], w) for n, w in zip(EMB, want_emb)) <= TOL
    for case, (pts, lbl, boxes) in tracker_cases().items():
        for batch in (1, 2):
            b = lambda t: t.expand(batch, *t.shape[1:]).contiguous()
            feeds = dict({n: emb[n][:batch] for n in EMB}, input_points=b(pts).numpy(), input_labels=b(lbl).numpy(),
                         input_boxes=b(boxes).numpy())
            got = run(folder, r["trackerDecoder"].file, feeds)
            want = hf_tracker(tracker, [w[:batch] for w in want_emb], b(pts), b(lbl), b(boxes))
            diffs = {k: max_abs_diff(got[k], v) for k, v in want.items()}
            assert got["pred_masks"].shape == (batch, 1, 3, S // 14 * 4, S // 14 * 4)
            assert max(diffs.values()) <= TOL, (case, batch, diffs)


def test_usls_detector_graphs_equal_hf(built):
    """vision-encoder + text-encoder + geo-encoder-mask-decoder = HF Sam3Model on the scene, the text prompt and
    the exemplar box, and on usls's no-box prompt (one zero box labelled -10); the encoders for two images too."""
    folder = built[0]["usls"][0]
    detector = built[2]
    r = roles("usls")
    ids, am = inputs.text_prompt()
    cases = {"box": inputs.box_prompt(), "no box": (torch.zeros(1, 1, 4), torch.tensor([[-10]]))}
    for batch in (1, 2):
        px = two_images()[:batch]
        b = lambda t: t.expand(batch, *t.shape[1:]).contiguous()
        vision = run(folder, r["visionEncoder"].file, {"images": px.numpy()})
        text = run(folder, r["textEncoder"].file, {"input_ids": b(ids).numpy(), "attention_mask": b(am).numpy()})
        assert text["text_mask"].dtype == np.bool_ and np.array_equal(text["text_mask"], b(am).numpy() != 0)
        with torch.no_grad():
            fpn = detector.get_vision_features(pixel_values=px)
            features = detector.get_text_features(input_ids=b(ids), attention_mask=b(am), return_dict=True)
        want = dict(zip(["fpn_feat_0", "fpn_feat_1", "fpn_feat_2"], fpn.fpn_hidden_states),
                    fpn_pos_2=fpn.fpn_position_encoding[2], text_features=features.pooler_output)
        assert max(max_abs_diff(dict(vision, **text)[k], v) for k, v in want.items()) <= TOL
        for case, (boxes, labels) in cases.items() if batch == 1 else ():
            got = run(folder, r["detectorDecoderBoxes"].file,
                      dict(vision, **text, input_boxes=b(boxes).numpy(), input_boxes_labels=b(labels).numpy()))
            with torch.no_grad():
                o = detector(pixel_values=px, input_ids=b(ids), attention_mask=b(am), input_boxes=b(boxes),
                             input_boxes_labels=b(labels))
            diffs = {k: max_abs_diff(got[k], getattr(o, k)) for k in ("pred_masks", "pred_boxes", "pred_logits",
                                                                     "presence_logits")}
            assert max(diffs.values()) <= TOL, (case, batch, diffs)


def top_iou(a, b, k) -> float:
    ma, mb = a > 0, b > 0
    return float((ma & mb).sum() / max(1, (ma | mb).sum())) if k is None else top_iou(a[k], b[k], None)


def outputs(name, folder, dtype) -> dict:
    """The layout's graphs of one precision chained on the scene: the tracker on the two points, usls's detector
    on the text and the box."""
    layout, r = LAYOUTS[name], roles(name)
    px = inputs.pixel_values(S).numpy()
    pts, lbl = (t.numpy() for t in inputs.point_prompt(S))
    out = run(folder, layout.file(r["trackerVisionEncoder"], dtype), {"pixel_values": px})
    out.update(run(folder, layout.file(r["trackerDecoder"], dtype),
                   dict(out, input_points=pts, input_labels=lbl, input_boxes=np.zeros((1, 0, 4), np.float32))))
    if "visionEncoder" in r:
        ids, am = (t.numpy() for t in inputs.text_prompt())
        boxes, labels = (t.numpy() for t in inputs.box_prompt())
        feeds = run(folder, layout.file(r["visionEncoder"], dtype), {"images": px})
        feeds.update(run(folder, layout.file(r["textEncoder"], dtype), {"input_ids": ids, "attention_mask": am}))
        det = run(folder, layout.file(r["detectorDecoderBoxes"], dtype),
                  dict(feeds, input_boxes=boxes, input_boxes_labels=labels))
        out.update({"detector_" + k: v for k, v in det.items()})
    return out


@pytest.mark.parametrize("name,dtype", [(n, d) for n, layout in LAYOUTS.items() for d in layout.suffixes if d != "fp32"])
def test_precisions_open_and_agree_with_fp32(name, dtype, built):
    import onnx
    folder = built[0][name][0]
    layout = LAYOUTS[name]
    ops = set()
    for role in layout.roles:
        ops |= {n.op_type for n in onnx.load(os.path.join(folder, layout.file(role, dtype)),
                                             load_external_data=False).graph.node}
    must, must_not = QUANT_OPS[dtype]
    assert must <= ops and not (must_not & ops), (dtype, sorted(ops))
    a, b = outputs(name, folder, "fp32"), outputs(name, folder, dtype)
    k = int(np.argmax(a["iou_scores"]))
    iou = top_iou(a["pred_masks"][0, 0], b["pred_masks"][0, 0], k)
    print(name, dtype, "tracker top mask IoU", round(iou, 4))
    assert iou > MIN_IOU.get(dtype, 0.9)
    if "detector_pred_logits" in a:
        q = int(np.argmax(a["detector_pred_logits"][0]))
        det = top_iou(a["detector_pred_masks"][0], b["detector_pred_masks"][0], q)
        print(name, dtype, "detector top query mask IoU", round(det, 4))
        assert det > MIN_DETECTOR_IOU


def test_command_line_refuses_what_a_layout_lacks(tmp_path, capsys):
    assert main(["--pack", PACK, "--layout", "usls", "--out", str(tmp_path), "--dtypes", "q4"]) == 2
    assert "bad-arguments" in capsys.readouterr().err
    assert main(["--pack", PACK, "--layout", "tflite", "--out", str(tmp_path)]) == 2
    assert not os.listdir(tmp_path)
