"""Reference outputs of the Hugging Face implementation for the Node parity tests (test/reference/<pack>/*.json).

    python -m sam3_export.references --pack DIR --out DIR [--no-onnx]

reads only the pack's HF checkpoint (hf/config.json + hf/model.safetensors, loaded with HF's own classes), its
tokenizer and, for the onnx_* entries (max |onnxruntime - PyTorch| of each graph on the same inputs), its ONNX graphs.
The image is examples/scene.png (640 x 480), prepared by HF's processors (`processing.py`: HF's code with
torchvision's three calls done by torch); the prompts are those of `inputs.py`. It writes
- reference_detector.json: Sam3Model - processor outputs, raw outputs of the text and text + box prompts, the
  post-processed detections of HF's post_process_instance_segmentation at thresholds 0 and 0.3;
- reference_tracker.json: Sam3TrackerVideoModel on one frame (its image embeddings, its prompt encoder + mask
  decoder with 3 multimask candidates: the pack's trackerVisionEncoder / trackerDecoder) - points in the model
  frame, raw outputs, HF's post_process_masks; and the prompts of the public exports' decoders: a box alone
  (box_only), HF's single-mask output with its stability fallback (single_mask: the two points, the box) and the
  first click alone (one_click_multimask);
- reference_video.json: Sam3VideoModel (its detector's ViT, the tracker neck, its Sam3TrackerVideoModel) - the
  backbone, the video tracker decoder's 4 mask tokens, the memory encoder of the decoder's chosen mask and memory
  attention over a bank of 2 memory frames and 3 object pointers, each with its inputs spelled out.
A tensor is summarised by `stats`: shape, mean, std, min, max and 64 values at fixed flat indices.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from unittest import mock

import numpy as np
import torch

from . import inputs
from .export import max_abs_diff
from .processing import detector_processor, tracker_processor

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCENE = os.path.join(REPO, "examples", "scene.png")
TEXT = "red circle"
THRESHOLDS = (0.0, 0.3)
TOP = 10  # detections kept per threshold (best first); the best 3 with their mask's RLE
# The memory bank of reference_video.json, as an HF inference session: the current frame, the video's length,
# the conditioning frame (prompted memory, pointer of mask token 1) and the tracked frames (7: tracked memory,
# token 2; 1: beyond the 6 memory slots, so a pointer only, token 3).
BANK = {"frame": 8, "num_frames": 16, "cond": {0: ("prompted", 1)}, "tracked": {7: ("tracked", 2), 1: (None, 3)}}


def stats(a) -> dict:
    a = np.asarray(a, dtype=np.float64)
    flat = a.reshape(-1)
    idx = np.linspace(0, flat.size - 1, num=min(64, flat.size)).astype(np.int64)
    return {"shape": list(a.shape), "mean": float(flat.mean()), "std": float(flat.std()), "min": float(flat.min()),
            "max": float(flat.max()), "sample_index": idx.tolist(), "sample": [float(flat[i]) for i in idx]}


def rle(mask) -> dict:
    """Column-major uncompressed COCO-style counts of a 2-D mask (the first run counts zeros)."""
    m = np.asarray(mask).astype(bool)
    flat = m.T.reshape(-1)
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": [int(c) for c in counts]}


def compressed_rle(mask) -> dict:
    """`rle` with its counts written as pycocotools writes them (rleToString): from the fourth on, each count is the
    difference to the count two before, in 5-bit chunks (6th bit: more follow), each chunk + 48 as a character."""
    r = rle(mask)
    chars = []
    for i, x in enumerate(r["counts"]):
        x = x - r["counts"][i - 2] if i > 2 else x
        more = True
        while more:
            chunk = x & 0x1F
            x >>= 5  # arithmetic: -1 stays -1
            more = x != -1 if chunk & 0x10 else x != 0
            chars.append(chr(48 + (chunk | 0x20 if more else chunk)))
    return {"size": r["size"], "counts": "".join(chars)}


def digest(value) -> str:
    """sha256 of a JSON value: pins a long list (an RLE) in a small fixture."""
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()


def load_scene():
    from PIL import Image
    return Image.open(SCENE).convert("RGB")


def np32(t) -> np.ndarray:
    return t.detach().cpu().numpy()


class Graphs:
    """The pack's ONNX graphs: max |onnxruntime - PyTorch| per output on given feeds (None: no pack graphs)."""

    def __init__(self, pack_dir: str | None):
        self.dir = pack_dir

    def parity(self, file: str, feeds: dict, want: dict) -> dict | None:
        if self.dir is None:
            return None
        import onnxruntime as ort
        path = os.path.join(self.dir, file)
        if not os.path.exists(path):
            raise FileNotFoundError(f"the pack has no {file}")
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = {i.name for i in sess.get_inputs()}
        outs = [o.name for o in sess.get_outputs()]
        got = sess.run(outs, {k: np.asarray(v) for k, v in feeds.items() if k in names})
        return {n: {"shape": list(g.shape), "max_abs_diff_vs_torch": max_abs_diff(g, want[n])}
                for n, g in zip(outs, got) if n in want}


# ---------------------------------------------------------------- detector
def run_detector(model, processor, image) -> dict:
    """The processor's inputs and Sam3Model's outputs on the scene with the text prompt, and with text + box."""
    enc = processor(images=image, text=TEXT, return_tensors="pt")
    r = {"pixel_values": enc["pixel_values"].float(), "input_ids": enc["input_ids"],
         "attention_mask": enc["attention_mask"], "original_sizes": enc["original_sizes"].tolist(),
         "input_boxes": torch.tensor(inputs.BOX_CXCYWH, dtype=torch.float32),
         "input_boxes_labels": torch.tensor(inputs.BOX_LABELS, dtype=torch.int64)}
    with torch.no_grad():
        vision = model.get_vision_features(pixel_values=r["pixel_values"])
        r["fpn"] = list(vision.fpn_hidden_states) + list(vision.fpn_position_encoding)
        r["text_features"] = model.get_text_features(input_ids=r["input_ids"], attention_mask=r["attention_mask"],
                                                     return_dict=True).pooler_output
        r["out"] = model(vision_embeds=vision, input_ids=r["input_ids"], attention_mask=r["attention_mask"])
        r["out_boxes"] = model(vision_embeds=vision, input_ids=r["input_ids"], attention_mask=r["attention_mask"],
                               input_boxes=r["input_boxes"], input_boxes_labels=r["input_boxes_labels"])
    return r


def top_detections(processor, out, sizes, threshold: float) -> tuple[int, list, list]:
    """HF's post_process_instance_segmentation: (count, result keys, the TOP best as (query, score, box, mask))."""
    res = processor.post_process_instance_segmentation(out, threshold=threshold, mask_threshold=0.5, target_sizes=sizes)[0]
    scores = res["scores"].tolist()
    queries = torch.nonzero(out.pred_logits[0].sigmoid() * out.presence_logits[0].sigmoid() > threshold)[:, 0].tolist()
    order = np.argsort(-np.asarray(scores), kind="stable")[:TOP] if scores else []
    return len(scores), list(res.keys()), [(queries[i], scores[i], res["boxes"][i].tolist(), np32(res["masks"][i]))
                                           for i in order]


def detector_reference(model, processor, image, graphs: Graphs, run: dict | None = None) -> dict:
    """reference_detector.json; run: run_detector's result, if already made."""
    r = run or run_detector(model, processor, image)
    px, ids, am, out, out_boxes = r["pixel_values"], r["input_ids"], r["attention_mask"], r["out"], r["out_boxes"]
    ref = {"model": "Sam3Model.from_pretrained(pack/hf)", "image": os.path.basename(SCENE),
           "image_size": processor.image_processor.size["height"],
           "num_queries": model.config.detr_decoder_config.num_queries, "pixel_values": stats(np32(px)),
           "processor_config": json.loads(processor.image_processor.to_json_string()),
           "input_ids": ids.tolist(), "attention_mask": am.tolist(), "original_sizes": r["original_sizes"]}
    fpn_names = [f"fpn_feat_{i}" for i in range(4)] + [f"fpn_pos_{i}" for i in range(4)]
    dec = lambda o: {"pred_masks": np32(o.pred_masks), "pred_boxes": np32(o.pred_boxes),
                     "pred_logits": np32(o.pred_logits), "presence_logits": np32(o.presence_logits),
                     "semantic_seg": np32(o.semantic_seg)}
    vfeeds = {n: np32(t) for n, t in zip(fpn_names, r["fpn"])}
    dfeeds = dict(vfeeds, text_features=np32(r["text_features"]), text_mask=np32(am))
    ref["onnx_vision_encoder"] = graphs.parity("onnx/vision_encoder.onnx", {"pixel_values": np32(px)}, vfeeds)
    ref["onnx_text_encoder"] = graphs.parity("onnx/text_encoder.onnx", {"input_ids": np32(ids), "attention_mask": np32(am)},
                                             {"text_features": np32(r["text_features"])})
    ref["onnx_detector_decoder"] = graphs.parity("onnx/detector_decoder.onnx", dfeeds, dec(out))
    ref["onnx_detector_decoder_boxes"] = graphs.parity(
        "onnx/detector_decoder_boxes.onnx",
        dict(dfeeds, input_boxes=np32(r["input_boxes"]), input_boxes_labels=np32(r["input_boxes_labels"])), dec(out_boxes))
    ref["box_prompt"] = {"input_boxes_cxcywh_norm": r["input_boxes"].tolist(), "labels": r["input_boxes_labels"].tolist(),
                         "pred_logits": stats(np32(out_boxes.pred_logits)),
                         "pred_boxes_first5": out_boxes.pred_boxes[0, :5].tolist()}
    ref["raw"] = {"pred_logits": stats(np32(out.pred_logits)), "presence_logits": out.presence_logits.tolist(),
                  "pred_boxes_first5": out.pred_boxes[0, :5].tolist(), "pred_masks": stats(np32(out.pred_masks)),
                  "semantic_seg": stats(np32(out.semantic_seg)), "text_features": stats(np32(r["text_features"])),
                  "fpn": [stats(np32(t)) for t in r["fpn"]]}
    for thr in THRESHOLDS:
        count, keys, top = top_detections(processor, out, r["original_sizes"], thr)
        ref[f"post_threshold_{thr}"] = {
            "count": count, "keys": keys,
            "top": [{"query": q, "score": score, "box_xyxy": box, "mask_area": int(mask.sum()),
                     "mask_rle": rle(mask) if rank < 3 else None}
                    for rank, (q, score, box, mask) in enumerate(top)]}
    return ref


# ---------------------------------------------------------------- tracker (single image)
TRACKER_MODEL = (
    "Sam3TrackerVideoModel.from_pretrained(pack/hf) on one frame: get_image_embeddings (level 2 with the no-memory "
    "embedding), then its prompt_encoder + mask_decoder with multimask_output=True (mask tokens 1..3). Not "
    "Sam3TrackerModel: HF's image tracker adds the no-memory embedding to the 4th FPN level, which it then drops.")


def Sam3TrackerModelClass():
    from transformers import Sam3TrackerModel
    return Sam3TrackerModel


# The box of the box prompts (box_only, single_mask), in the scene's pixels: around the red disc.
BOX_XYXY = [80, 90, 240, 250]
SINGLE_MASK_TOKENS = ("0: HF's single-mask output token (its stability score at or over the threshold); 1..3: the "
                      "multimask candidate of best IoU estimate that HF falls back to")


def _decode(t, emb, pts=None, lbl=None, boxes=None, mask=None, multimask=True, stability=True):
    """HF's prompt encoder + mask decoder of a tracker (Sam3TrackerModel or the video tracker) on one frame's
    embeddings: masks, IoU, mask tokens, object score; stability=False turns HF's single-mask fallback off."""
    md = t.mask_decoder
    sparse, dense = t.prompt_encoder(input_points=pts, input_labels=lbl, input_boxes=boxes, input_masks=mask)
    with mock.patch.object(md, "dynamic_multimask_via_stability", md.dynamic_multimask_via_stability and stability):
        return md(image_embeddings=emb[2], image_positional_embeddings=t.get_image_wide_positional_embeddings(),
                  sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
                  high_resolution_features=emb[:2])


def _masks_json(processor, sizes, masks, iou, obj) -> dict:
    """A decoder output: IoU estimates, object score, the raw mask logits (stats), per mask the low-res area
    (logits > 0) and the area after HF's post_process_masks to the scene's size."""
    post = processor.post_process_masks(masks, sizes)[0]
    return {"iou_scores": iou.tolist(), "object_score_logits": obj.tolist(), "pred_masks": stats(np32(masks)),
            "low_res_areas": (masks > 0).flatten(3).sum(-1).reshape(-1).tolist(),
            "post_mask_areas": post.reshape(post.shape[0] * post.shape[1], -1).sum(-1).tolist()}


def _multimask_case(t, processor, sizes, emb, pts=None, lbl=None, boxes=None) -> dict:
    masks, iou, _, obj = _decode(t, emb, pts, lbl, boxes)
    return _masks_json(processor, sizes, masks, iou, obj)


def _single_mask_case(t, processor, sizes, emb, pts=None, lbl=None, boxes=None) -> dict:
    """HF's multimask_output=False: token 0, or where its stability score is under the threshold (and the config's
    dynamic_multimask_via_stability is on) the multimask candidate of best IoU estimate; `token` says which."""
    md = t.mask_decoder
    masks, iou, _, obj = _decode(t, emb, pts, lbl, boxes, multimask=False)
    m0 = _decode(t, emb, pts, lbl, boxes, multimask=False, stability=False)[0]
    m13, iou13, _, _ = _decode(t, emb, pts, lbl, boxes)
    score = float(md._get_stability_scores(m0).reshape(-1)[0])
    stable = not md.dynamic_multimask_via_stability or score >= md.dynamic_multimask_stability_thresh
    token = 0 if stable else 1 + int(torch.argmax(iou13.reshape(-1)))
    assert torch.equal(masks, m0 if token == 0 else m13[:, :, token - 1:token])
    return dict(_masks_json(processor, sizes, masks, iou, obj), token=token, stability_score=score,
                stability_threshold=md.dynamic_multimask_stability_thresh,
                dynamic_multimask_via_stability=md.dynamic_multimask_via_stability)


def _candidates(model, emb, pts, lbl, mask=None):
    """The 3 multimask candidates: Sam3TrackerModel's forward, or the video tracker's mask tokens 1..3."""
    from types import SimpleNamespace
    if isinstance(model, Sam3TrackerModelClass()):
        return model(image_embeddings=emb, input_points=pts, input_labels=lbl, input_masks=mask, multimask_output=True)
    o = _video_tokens(model, emb, pts, lbl, mask)
    return SimpleNamespace(iou_scores=o["iou_scores"][:, :, 1:], pred_masks=o["pred_masks"][:, :, 1:],
                           object_score_logits=o["object_score_logits"])


def tracker_reference(model, processor, image, graphs: Graphs) -> dict:
    S = processor.image_processor.size["height"]
    enc = processor(images=image, input_points=inputs.POINTS, input_labels=inputs.POINT_LABELS, return_tensors="pt")
    px, pts, lbl = enc["pixel_values"].float(), enc["input_points"].float(), enc["input_labels"].long()
    with torch.no_grad():
        emb = model.get_image_embeddings(px)
        out = _candidates(model, emb, pts, lbl)
        mask_in = out.pred_masks[:, :, :1].reshape(1, 1, *out.pred_masks.shape[-2:])  # candidate 0 as a mask prompt
        out_mask = _candidates(model, emb, pts, lbl, mask_in)
    emb_names = [f"image_embeddings_{i}" for i in range(3)]
    dec = lambda o: {"iou_scores": np32(o.iou_scores), "pred_masks": np32(o.pred_masks),
                     "object_score_logits": np32(o.object_score_logits)}
    feeds = dict({n: np32(e) for n, e in zip(emb_names, emb)}, input_points=np32(pts), input_labels=np32(lbl))
    masks = processor.post_process_masks(out.pred_masks, enc["original_sizes"])[0]
    sizes = enc["original_sizes"]
    boxes = processor(images=image, input_boxes=[[BOX_XYXY]], return_tensors="pt")["input_boxes"].float()
    with torch.no_grad():
        cases = {
            "box_only": dict(_multimask_case(model, processor, sizes, emb, boxes=boxes), input_boxes_original=BOX_XYXY,
                             input_boxes_model_frame=boxes.tolist()),
            "single_mask": {
                "tokens": SINGLE_MASK_TOKENS,
                "two_points": _single_mask_case(model, processor, sizes, emb, pts, lbl),
                "box": _single_mask_case(model, processor, sizes, emb, boxes=boxes)},
            "one_click_multimask": dict(_multimask_case(model, processor, sizes, emb, pts[:, :, :1], lbl[:, :, :1]),
                                        points_original=[[inputs.POINTS[0][0][:1]]],
                                        labels=[[inputs.POINT_LABELS[0][0][:1]]]),
        }
    return {
        "model": TRACKER_MODEL if not isinstance(model, Sam3TrackerModelClass()) else
                 "Sam3TrackerModel: get_image_embeddings, then forward(image_embeddings, multimask_output=True)",
        "image_size": S, "processor_config": json.loads(processor.image_processor.to_json_string()),
        "pixel_values": stats(np32(px)), "points_original": inputs.POINTS, "labels": inputs.POINT_LABELS,
        "input_points_model_frame": pts.tolist(),
        "onnx_tracker_vision_encoder": graphs.parity("onnx/tracker_vision_encoder.onnx", {"pixel_values": np32(px)},
                                                     {n: np32(e) for n, e in zip(emb_names, emb)}),
        "onnx_tracker_decoder": graphs.parity("onnx/tracker_decoder.onnx", feeds, dec(out)),
        "onnx_tracker_decoder_mask": graphs.parity("onnx/tracker_decoder_mask.onnx", dict(feeds, input_masks=np32(mask_in)),
                                                   dec(out_mask)),
        "raw": {"iou_scores": out.iou_scores.tolist(), "object_score_logits": out.object_score_logits.tolist(),
                "pred_masks": stats(np32(out.pred_masks)), "embeddings": [stats(np32(e)) for e in emb]},
        "post_masks": {"shape": list(masks.shape), "areas": masks.reshape(masks.shape[0] * masks.shape[1], -1).sum(-1).tolist(),
                       "mask0_rle": rle(np32(masks[0, 0]))},
        **cases,
    }


# ---------------------------------------------------------------- video graphs
class _TorchKeepingFloat32:
    """torch, where bfloat16 is float32: HF's _encode_new_memory then returns its features before it rounds them
    for storage (the memory encoder graph's output; the caller rounds)."""
    bfloat16 = torch.float32

    def __getattr__(self, name):
        return getattr(torch, name)


def _nchw(x, size):
    """[HW, B, C] -> [B, C, H, W]"""
    return x.permute(1, 2, 0).reshape(x.shape[1], -1, *size)


def _video_tokens(t, emb, pts, lbl, mask=None) -> dict:
    """All 4 mask tokens of HF's video tracker mask decoder (token 0: the single-mask output read raw, with HF's
    stability fallback off; 1..3: the multimask candidates), the object pointer of each as _single_frame_forward
    makes it (the no-object pointer where the object score is <= 0)."""
    m13, iou13, tok13, obj = _decode(t, emb, pts, lbl, mask=mask)
    m0, iou0, tok0, obj0 = _decode(t, emb, pts, lbl, mask=mask, multimask=False, stability=False)
    assert torch.equal(obj, obj0)
    tokens = torch.cat([tok0, tok13], dim=2)
    seen = (obj > 0).to(tokens.dtype)[..., None]
    pointers = seen * t.object_pointer_proj(tokens) + (1 - seen) * t.no_object_pointer
    return {"pred_masks": torch.cat([m0, m13], dim=2), "iou_scores": torch.cat([iou0, iou13], dim=2),
            "object_score_logits": obj, "object_pointers": pointers}


def _tokens_json(o: dict) -> dict:
    return {"iou_scores": o["iou_scores"].tolist(), "object_score_logits": o["object_score_logits"].tolist(),
            "object_pointers": stats(np32(o["object_pointers"])), "pred_masks": stats(np32(o["pred_masks"]))}


def video_reference(video, px, pts, lbl, graphs: Graphs) -> dict:
    from transformers.models.sam3_tracker_video import modeling_sam3_tracker_video as hf_video
    t = video.tracker_model
    sizes = t.backbone_feature_sizes
    S, g = t.image_size, sizes[-1]
    with torch.no_grad():
        ve = video.detector_model.get_vision_features(pixel_values=px)
        feats, pos = video.get_vision_features_for_tracker(vision_embeds=ve)
        # a frame without memory: HF's memory conditioning of an initial conditioning frame (the no-memory embedding)
        emb2 = t._prepare_memory_conditioned_features(
            inference_session=None, frame_idx=0, obj_idx=0, is_initial_conditioning_frame=True,
            current_vision_features=feats[2], current_vision_positional_embeddings=pos[2], num_total_frames=1)
        emb = [_nchw(feats[0], sizes[0]), _nchw(feats[1], sizes[1]), emb2]
        backbone = dict(zip([f"fpn_feat_{i}" for i in range(4)], ve.fpn_hidden_states))
        backbone.update(zip([f"fpn_pos_{i}" for i in range(4)], ve.fpn_position_encoding))
        backbone.update(zip([f"image_embeddings_{i}" for i in range(3)], emb))
        backbone.update(tracker_feat_2=_nchw(feats[2], g), tracker_pos_2=_nchw(pos[2], g))

        tokens = _video_tokens(t, emb, pts, lbl)
        frame = t._single_frame_forward(image_embeddings=emb, input_points=pts, input_labels=lbl, multimask_output=True)
        best = 1 + int(torch.argmax(tokens["iou_scores"][0, 0, 1:]))
        # HF's own choice agrees with the tokens read out: its pointer is the best candidate's
        assert torch.allclose(frame.object_pointer, tokens["object_pointers"][:, 0, best], atol=1e-6)
        high = frame.high_res_masks  # [1, 1, S, S]: the chosen low-res logits upsampled, -1024 if not seen
        low = frame.pred_masks  # [1, 1, 4g, 4g]
        mask_tokens = _video_tokens(t, emb, pts, lbl, mask=low)

        # a mask prompt as HF makes it (_use_mask_as_output): 20 * mask - 10, object score 10 (the mask is not empty),
        # encoded binarised (a prompted frame) and through the sigmoid (as a tracked frame's); and the decoder's
        # chosen mask on a tracked frame. The tiny model's mask logits are ~1e-3, so the sigmoid of the decoder's
        # mask is ~0.5 everywhere and the memory encoder's normalisation magnifies float noise (~1e-4): memory
        # attention reads the two well-conditioned memories.
        box = torch.zeros(1, 1, S, S)
        box[..., S // 4:S // 2, S // 4:S // 2] = 1
        prompt, ten = box * 20 - 10, torch.full((1, 1), 10.0)
        encoder_inputs = {"prompted": (prompt, ten, True), "tracked": (prompt, ten, False),
                          "decoder": (high, tokens["object_score_logits"][0], False)}
        memories = {}
        with mock.patch.object(hf_video, "torch", _TorchKeepingFloat32()):
            for case, (masks, score, from_prompt) in encoder_inputs.items():
                f, p = t._encode_new_memory(current_vision_feats=feats[2], pred_masks_high_res=masks,
                                            object_score_logits=score, is_mask_from_pts=from_prompt)
                memories[case] = (f, p)  # [HW, 1, Cm] each

        session = hf_video.Sam3TrackerVideoInferenceSession(dtype=torch.float32)
        entry = lambda case, token: dict({"maskmem_features": memories[case][0], "maskmem_pos_enc": memories[case][1]} if case else {},
                                         object_pointer=tokens["object_pointers"][:, 0, token])
        session.output_dict_per_obj[0] = {
            "cond_frame_outputs": {i: entry(*v) for i, v in BANK["cond"].items()},
            "non_cond_frame_outputs": {i: entry(*v) for i, v in BANK["tracked"].items()}}
        conditioned = t._prepare_memory_conditioned_features(
            inference_session=session, frame_idx=BANK["frame"], obj_idx=0, is_initial_conditioning_frame=False,
            current_vision_features=feats[2], current_vision_positional_embeddings=pos[2],
            num_total_frames=BANK["num_frames"])

    # memory frames in HF's order: conditioning frames (offset 0), then tracked ones from the oldest
    bank = [(0, case, tok) for case, tok in BANK["cond"].values()]
    bank += [(BANK["frame"] - i, case, tok) for i, (case, tok) in sorted(BANK["tracked"].items()) if case]
    pointer_rows = [(BANK["frame"] - i, tok) for i, (_, tok) in BANK["cond"].items()]
    pointer_rows += [(BANK["frame"] - i, tok) for i, (_, tok) in sorted(BANK["tracked"].items(), reverse=True)]
    max_offset = min(BANK["num_frames"], t.config.max_object_pointers_in_encoder) - 1
    mem_nchw = {c: (_nchw(f, g), _nchw(p, g)) for c, (f, p) in memories.items()}
    attention_feeds = {
        "tracker_feat_2": np32(backbone["tracker_feat_2"]), "tracker_pos_2": np32(backbone["tracker_pos_2"]),
        "memory_features": np.concatenate([np32(mem_nchw[c][0]) for _, c, _ in bank]),
        "memory_pos_enc": np.concatenate([np32(mem_nchw[c][1]) for _, c, _ in bank]),
        "memory_offsets": np.array([o for o, _, _ in bank], dtype=np.int64),
        "object_pointers": np.stack([np32(tokens["object_pointers"][0, 0, k]) for _, k in pointer_rows]),
        "object_pointer_offsets": np.array([o for o, _ in pointer_rows], dtype=np.int64),
        "object_pointer_max_offset": np.array([max_offset], dtype=np.float32)}

    emb_feeds = {f"image_embeddings_{i}": np32(e) for i, e in enumerate(emb)}
    dec_feeds = dict(emb_feeds, input_points=np32(pts), input_labels=np32(lbl))
    np_tokens = lambda o: {k: np32(v) for k, v in o.items()}
    enc_feeds = lambda case: {"tracker_feat_2": np32(backbone["tracker_feat_2"]),
                              "high_res_masks": np32(encoder_inputs[case][0]),
                              "object_score_logits": np32(encoder_inputs[case][1]).reshape(1, 1, 1),
                              "mask_from_prompt": np.array([encoder_inputs[case][2]])}
    return {
        "model": "Sam3VideoModel.from_pretrained(pack/hf): detector_model.get_vision_features, "
                 "get_vision_features_for_tracker and its tracker_model (Sam3TrackerVideoModel): "
                 "_prepare_memory_conditioned_features, prompt_encoder + mask_decoder, _single_frame_forward, "
                 "_encode_new_memory (features before their bfloat16 storage rounding)",
        "image": os.path.basename(SCENE), "image_size": S, "pixel_values": stats(np32(px)),
        "backbone": {"inputs": {"pixel_values": "the scene as reference_detector.json's pixel_values"},
                     "outputs": {k: stats(np32(v)) for k, v in backbone.items()}},
        "video_tracker_decoder": {
            "inputs": {"image_embeddings_0..2": "backbone outputs", "input_points": pts.tolist(),
                       "input_labels": lbl.tolist()},
            "tokens": "0: single-mask output (raw), 1..3: multimask candidates", "best_candidate": best,
            "outputs": _tokens_json(tokens)},
        "video_tracker_decoder_mask": {
            "inputs": {"image_embeddings_0..2": "backbone outputs", "input_points": pts.tolist(),
                       "input_labels": lbl.tolist(),
                       "input_masks": "video_tracker_decoder pred_masks[0, 0, best_candidate] as [1, 1, 4g, 4g], "
                                      "-1024 everywhere if the object score <= 0 (HF's chosen low-res mask)"},
            "outputs": _tokens_json(mask_tokens)},
        "memory_encoder": {
            "inputs": {
                "prompted": {"tracker_feat_2": "backbone output",
                             "high_res_masks": "a mask prompt as HF makes it: 10 where S/4 <= y < S/2 and "
                                               "S/4 <= x < S/2 (integer division), else -10; [1, 1, S, S]",
                             "object_score_logits": 10.0, "mask_from_prompt": True},
                "tracked": {"tracker_feat_2": "backbone output", "high_res_masks": "as prompted",
                            "object_score_logits": 10.0, "mask_from_prompt": False},
                "decoder": {"tracker_feat_2": "backbone output",
                            "high_res_masks": "video_tracker_decoder pred_masks[0, 0, best_candidate] upsampled to "
                                              "S x S (bilinear, align_corners=False; -1024 everywhere if the object "
                                              "score <= 0), [1, 1, S, S]",
                            "object_score_logits": "video_tracker_decoder object_score_logits ([1, 1, 1])",
                            "mask_from_prompt": False}},
            "decoder_high_res_masks": stats(np32(high)),
            "outputs": {case: {"maskmem_features": stats(np32(mem_nchw[case][0])),
                               "maskmem_pos_enc": stats(np32(mem_nchw[case][1]))} for case in memories}},
        "memory_attention": {
            "session": {"frame": BANK["frame"], "num_frames": BANK["num_frames"],
                        "cond_frames": {str(i): {"memory": c, "pointer_token": k} for i, (c, k) in BANK["cond"].items()},
                        "tracked_frames": {str(i): {"memory": c, "pointer_token": k} for i, (c, k) in BANK["tracked"].items()}},
            "inputs": {"tracker_feat_2": "backbone output", "tracker_pos_2": "backbone output",
                       "memory_cases": [c for _, c, _ in bank],
                       "memory_features": [f"memory_encoder {c} maskmem_features" for _, c, _ in bank],
                       "memory_pos_enc": [f"memory_encoder {c} maskmem_pos_enc" for _, c, _ in bank],
                       "memory_offsets": attention_feeds["memory_offsets"].tolist(),
                       "object_pointers": [f"video_tracker_decoder object_pointers[0, 0, {k}]" for _, k in pointer_rows],
                       "object_pointer_tokens": [k for _, k in pointer_rows],
                       "object_pointer_offsets": attention_feeds["object_pointer_offsets"].tolist(),
                       "object_pointer_max_offset": float(max_offset)},
            "outputs": {"image_embeddings_2": stats(np32(conditioned))}},
        "onnx_backbone": graphs.parity("onnx/backbone.onnx", {"pixel_values": np32(px)},
                                       {k: np32(v) for k, v in backbone.items()}),
        "onnx_video_tracker_decoder": graphs.parity("onnx/video_tracker_decoder.onnx", dec_feeds, np_tokens(tokens)),
        "onnx_video_tracker_decoder_mask": graphs.parity("onnx/video_tracker_decoder_mask.onnx",
                                                         dict(dec_feeds, input_masks=np32(low)), np_tokens(mask_tokens)),
        "onnx_memory_encoder": {case: graphs.parity("onnx/memory_encoder.onnx", enc_feeds(case),
                                                    {"maskmem_features": np32(mem_nchw[case][0]),
                                                     "maskmem_pos_enc": np32(mem_nchw[case][1])})
                                for case in memories},
        "onnx_memory_attention": graphs.parity("onnx/memory_attention.onnx", attention_feeds,
                                               {"image_embeddings_2": np32(conditioned)}),
    }


# ---------------------------------------------------------------- the pack
def load_models(pack_dir: str) -> dict:
    """HF's classes from the pack's checkpoint, every parameter from it. The detector is the video model's
    detector_model: the Sam3Model that Sam3Model.from_pretrained gives (same class, same weights); the image tracker
    is loaded on its own, as the video model's tracker has no vision encoder."""
    from transformers import Sam3TrackerVideoModel
    from .sources import load_pack_model
    video = load_pack_model(pack_dir)
    hf_dir = os.path.join(pack_dir, "hf")
    tracker, info = Sam3TrackerVideoModel.from_pretrained(hf_dir, output_loading_info=True)
    if info.get("missing_keys"):
        raise ValueError(f"Sam3TrackerVideoModel misses {len(info['missing_keys'])} weights in {hf_dir}, "
                         f"e.g. {sorted(info['missing_keys'])[:3]}")
    return {"detector": video.detector_model, "tracker": tracker.float().eval(), "video": video}


def tokenizer(pack_dir: str):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(pack_dir)


def write_references(pack_dir: str, out_dir: str, onnx: bool = True, progress=print) -> dict:
    models = load_models(pack_dir)
    graphs = Graphs(pack_dir if onnx else None)
    S = models["video"].tracker_model.image_size
    image = load_scene()
    det_proc = detector_processor(S, tokenizer(pack_dir))
    trk_proc = tracker_processor(S)
    refs = {"reference_detector.json": detector_reference(models["detector"], det_proc, image, graphs)}
    progress("detector reference done")
    refs["reference_tracker.json"] = tracker_reference(models["tracker"], trk_proc, image, graphs)
    progress("tracker reference done")
    enc = trk_proc(images=image, input_points=inputs.POINTS, input_labels=inputs.POINT_LABELS, return_tensors="pt")
    video = video_reference(models["video"], enc["pixel_values"].float(), enc["input_points"].float(),
                            enc["input_labels"].long(), graphs)
    # the image tracker reference is the video model's tracker on one frame: same embeddings, same candidates
    trk = refs["reference_tracker.json"]["raw"]
    video["cross_checks"] = {
        "tracker_embeddings_vs_backbone": max(_max_sample_diff(trk["embeddings"][i], video["backbone"]["outputs"][f"image_embeddings_{i}"])
                                              for i in range(3)),
        "tracker_iou_vs_video_tokens_1_3": float(np.max(np.abs(np.asarray(trk["iou_scores"]).reshape(-1)
                                                               - np.asarray(video["video_tracker_decoder"]["outputs"]["iou_scores"]).reshape(-1)[1:])))}
    refs["reference_video.json"] = video
    progress("video reference done")
    os.makedirs(out_dir, exist_ok=True)
    for name, ref in refs.items():
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(ref, f, indent=1)
            f.write("\n")
    return refs


def _max_sample_diff(a: dict, b: dict) -> float:
    assert a["shape"] == b["shape"] and a["sample_index"] == b["sample_index"]
    return float(np.max(np.abs(np.asarray(a["sample"]) - np.asarray(b["sample"]))))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sam3_export.references", description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", required=True, help="a pack folder with hf/config.json + hf/model.safetensors")
    p.add_argument("--out", required=True, help="where the reference_*.json files go")
    p.add_argument("--no-onnx", action="store_true", help="leave out the onnx_* entries (the pack's graphs)")
    a = p.parse_args(argv)
    torch.set_grad_enabled(False)
    write_references(a.pack, a.out, onnx=not a.no_onnx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
