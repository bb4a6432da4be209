"""Frame-by-frame reference of HF's SAM 3 video tracking on the synthetic clip (test/reference/video_clip.json).

    python -m sam3_export.video_tracking_reference --pack DIR --out FILE [--frames N]

reads the pack's HF checkpoint (load_models) and tokenizer, draws the clip (clip.py), prepares each frame with HF's
image processor at the pack's size (processing.py) and writes one JSON:
- clip: the spec's file, size, frame count and the sha256 of each frame's raw RGB bytes;
- tracker: Sam3VideoModel's tracker_model (Sam3TrackerVideoModel) on the detector ViT's features
  (get_vision_features_for_tracker, as Sam3VideoModel tracks): clicks on frame 0 for two objects, propagation
  through the clip, a refinement click on a later frame, propagation again; per frame and object the decode, the
  memory bank and object pointers memory attention read and the mask, with memory-graph samples (video_probe.py);
- video: Sam3VideoModel with a text prompt and lowered detection thresholds, forward from frame 0 and in reverse
  from the last frame: per frame as HF yields it, the detections, HF's update plan, the model's output and
  HF's post-processed output (Sam3VideoProcessor.postprocess_outputs).
Masks are at clip resolution, compressed COCO RLE (references.compressed_rle; plain counts where the string would spell a
work marker, see file_rle).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from unittest import mock

import numpy as np
import torch

from . import cv_utils
from .clip import CLIP_SPEC, frame_sha256, load_clip_spec, render_clip
from .processing import image_processor, tracker_video_processor, video_processor
from .references import compressed_rle, load_models, np32, rle, tokenizer
from .video_probe import TrackerProbe

# Clicks in clip pixels: obj 1 the red box (one positive click), obj 2 the blue disc (positive on it, negative on the
# green bar); on frame 20 a negative click for obj 1 on the disc, which then covers the box's right edge.
CLICKS = [{"frame": 0, "obj_id": 1, "points": [[25, 32]], "labels": [1]},
          {"frame": 0, "obj_id": 2, "points": [[133, 41], [114, 88]], "labels": [1, 0]}]
REFINEMENT = {"frame": 20, "obj_id": 1, "points": [[90, 45]], "labels": [0]}
MEMORY_SAMPLE_FRAMES = (0, 1, 2, 7, 8, 20, 21, 40)
TEXT = "ball"
# Random weights score every query ~0.25 on every frame (within 1e-6 from frame to frame); these thresholds sit in
# the widest gap near the top of each pack's scores (4 queries pass at 336, 3 at 1008).
DETECTION_THRESHOLDS = {336: 0.25135, 1008: 0.25683}
THRESHOLD_FIELDS = ("score_threshold_detection", "new_det_thresh")
VIDEO_CONFIG_FIELDS = (
    "score_threshold_detection", "det_nms_thresh", "new_det_thresh", "assoc_iou_thresh", "trk_assoc_iou_thresh",
    "high_conf_thresh", "high_iou_thresh", "recondition_every_nth_frame", "recondition_on_trk_masks", "hotstart_delay",
    "hotstart_unmatch_thresh", "hotstart_dup_thresh", "suppress_unmatched_only_within_hotstart", "init_trk_keep_alive",
    "max_trk_keep_alive", "min_trk_keep_alive", "decrease_trk_keep_alive_for_empty_masklets",
    "suppress_overlapping_based_on_recent_occlusion_threshold", "fill_hole_area", "max_num_objects",
    "low_res_mask_size")
TRACKER_CONFIG_FIELDS = (
    "image_size", "num_maskmem", "max_cond_frame_num", "max_object_pointers_in_encoder", "multimask_output_in_sam",
    "multimask_output_for_tracking", "multimask_min_pt_num", "multimask_max_pt_num", "sigmoid_scale_for_mem_enc",
    "sigmoid_bias_for_mem_enc", "enable_occlusion_spatial_embedding", "enable_temporal_pos_encoding_for_object_pointers")
MASK_RULE = ("the low-res mask logits HF returns for the object ([4g, 4g], g the backbone grid; -1024 where the "
             "object score <= 0), bilinear to 120 x 160 (align_corners=False, no antialias: HF's post_process_masks "
             "/ postprocess_outputs), > 0")
BOX_RULE = "[x1, y1, x2, y2] of the mask in clip pixels, x2 / y2 exclusive (a one-pixel mask at (3, 4) is [3, 4, 4, 5])"


def clip_json(spec: dict, frames: list) -> dict:
    return {"spec": os.path.basename(CLIP_SPEC), "width": spec["width"], "height": spec["height"],
            "frames": len(frames), "sha256": [frame_sha256(f) for f in frames]}


def pixel_values(frames: list, size: int) -> torch.Tensor:
    """[N, 3, S, S]: each frame through HF's image processor (processing.py), as HF's video processor would."""
    ip = image_processor(size)
    return torch.cat([ip(images=torch.from_numpy(f).permute(2, 0, 1), return_tensors="pt")["pixel_values"]
                      for f in frames]).float()


def fixed_pointer_shapes(tracker):
    """HF keeps object pointers as [1, 1, C] and stacks them to [K, 1, 1, C]; the full model's mem_dim < C reshape
    fixes the shape, the tiny packs' mem_dim == C does not and memory concatenation fails: flatten each to [1, C]."""
    original = tracker._process_object_pointers
    return mock.patch.object(tracker, "_process_object_pointers", lambda offsets, pointers, *a, **k: original(
        offsets, [p.reshape(-1, p.shape[-1]) for p in pointers], *a, **k))


def tracker_features(video, session):
    """A vision-feature cache for a tracker session that fills a missing frame as Sam3VideoModel._det_track_one_frame
    does: the detector's ViT, then get_vision_features_for_tracker (the pack's backbone graph)."""
    from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import Sam3TrackerVideoInferenceCache

    class VideoModelFeatures(Sam3TrackerVideoInferenceCache):
        def get_vision_features(self, frame_idx):
            if frame_idx not in self._vision_features:
                vision = video.detector_model.get_vision_features(pixel_values=session.get_frame(frame_idx)[None])
                feats, pos = video.get_vision_features_for_tracker(vision_embeds=vision)
                self.cache_vision_features(frame_idx, {"vision_feats": feats, "vision_pos_embeds": pos})
            return super().get_vision_features(frame_idx)

    return VideoModelFeatures()


# words that mark unfinished work in source trees (spelled in pieces so this file holds none itself)
WORK_MARKERS = ("TO" + "DO", "FIX" + "ME", "X" * 3, "HA" + "CK")


def file_rle(mask) -> dict:
    """Compressed COCO RLE, or the plain counts (which COCO readers take too) where the compressed string happens
    to spell a work marker, so that the committed file reads as finished to tools that look for them."""
    r = compressed_rle(mask)
    return rle(mask) if any(w in r["counts"] for w in WORK_MARKERS) else r


def mask_json(mask) -> dict:
    m = np.asarray(mask, dtype=bool)
    ys, xs = np.nonzero(m)
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if xs.size else None
    return {"area": int(m.sum()), "box": box, "rle": file_rle(m)}


def clip_masks(processor, low_res: torch.Tensor, height: int, width: int) -> np.ndarray:
    """[N, H, W] bool: HF's post_process_masks of [N, 1, h, w] low-res logits (MASK_RULE)."""
    return np32(processor.post_process_masks([low_res.float()], [[height, width]])[0][:, 0])


# ---------------------------------------------------------------- case (a): the tracker
def tracker_frame(out, events: dict, decodes: dict, processor, spec) -> dict:
    """One forward call's output: per object, its decode (this call's, or for an output HF reused, the call's
    that made it), memory reads and writes, and its mask."""
    masks = clip_masks(processor, out.pred_masks, spec["height"], spec["width"])
    scores = out.object_score_logits.reshape(-1).tolist()
    objects = []
    for obj_idx, obj_id in enumerate(out.object_ids):
        event = events.get(obj_idx, {})
        decoded = "decoder" in event
        if decoded:
            decodes[(out.frame_idx, obj_id)] = event["decoder"]
        record = {"obj_id": obj_id, "object_score_logit": scores[obj_idx], "decoded": decoded}
        if "initial_conditioning_frame" in event:
            record.update({k: event[k] for k in ("initial_conditioning_frame", "reverse", "points", "mask_input")})
        record.update(decodes.get((out.frame_idx, obj_id), {}))
        record.update({k: event[k] for k in ("memory", "conditioned_embedding", "memory_encoder") if k in event})
        record.update(mask_json(masks[obj_idx]))
        objects.append(record)
    return {"frame": out.frame_idx, "objects": objects}


def tracker_reference(video, px: torch.Tensor, spec: dict, progress=print) -> dict:
    from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import Sam3TrackerVideoInferenceSession
    t = video.tracker_model
    S = t.image_size
    processor = tracker_video_processor(S)
    session = Sam3TrackerVideoInferenceSession(video=px, video_height=spec["height"], video_width=spec["width"],
                                               dtype=torch.float32)
    session.cache = tracker_features(video, session)
    decodes = {}

    def click(probe, prompt):
        processor.add_inputs_to_inference_session(session, frame_idx=prompt["frame"], obj_ids=prompt["obj_id"],
                                                  input_points=[[prompt["points"]]], input_labels=[[prompt["labels"]]])
        obj_idx = session.obj_id_to_idx(prompt["obj_id"])
        model_frame = session.point_inputs_per_obj[obj_idx][prompt["frame"]]
        out = t(inference_session=session, frame_idx=prompt["frame"])
        return dict(prompt, points_model_frame=model_frame["point_coords"][0, 0].tolist(),
                    labels_model_frame=model_frame["point_labels"][0, 0].tolist(),
                    output=tracker_frame(out, probe.take(), decodes, processor, spec))

    def propagate(probe):
        result = []
        for out in t.propagate_in_video_iterator(session):
            result.append(tracker_frame(out, probe.take(), decodes, processor, spec))
        return result

    cfg = t.config
    md = t.mask_decoder
    with fixed_pointer_shapes(t), TrackerProbe(t, session, MEMORY_SAMPLE_FRAMES) as probe:
        clicks = [click(probe, c) for c in CLICKS]
        initial = propagate(probe)
        progress(f"tracker: clicks and the first propagation done ({len(initial)} frames)")
        refinement = click(probe, REFINEMENT) if REFINEMENT["frame"] < px.shape[0] else None
        refined = propagate(probe) if refinement else None
    same = refined is not None and all(_same_outputs(a, b) for a, b in zip(initial, refined))
    for earlier, later in zip(initial, refined or []):
        _drop_repeats(earlier["objects"], later["objects"])
    return {
        "model": "Sam3VideoModel.from_pretrained(pack/hf).tracker_model (Sam3TrackerVideoModel) on "
                 "detector_model.get_vision_features + get_vision_features_for_tracker of each frame (cached on "
                 "demand in the session, as Sam3VideoModel does); prompts through HF's Sam3TrackerVideoProcessor."
                 "add_inputs_to_inference_session (clear_old_inputs=True), then forward(frame_idx); propagation by "
                 "propagate_in_video_iterator() with its defaults (from the earliest conditioning frame, forward)",
        "config": dict({k: getattr(cfg, k) for k in TRACKER_CONFIG_FIELDS},
                       dynamic_multimask_via_stability=md.dynamic_multimask_via_stability,
                       dynamic_multimask_stability_delta=md.dynamic_multimask_stability_delta,
                       dynamic_multimask_stability_thresh=md.dynamic_multimask_stability_thresh),
        "mask": MASK_RULE, "box": BOX_RULE,
        "fields": TRACKER_FIELDS,
        "memory_sample_frames": list(MEMORY_SAMPLE_FRAMES),
        "clicks": clicks,
        "initial": initial,
        "refinement_click": refinement,
        "refined": refined,
        "refined_equals_initial": same,
    }


def _drop_repeats(earlier: list, later: list) -> None:
    """Each object of `later` keeps the fields that differ from its record in `earlier` and lists the others in
    same_as_initial."""
    before = {o["obj_id"]: o for o in earlier}
    for o in later:
        same = [k for k, v in o.items() if k != "obj_id" and k in before.get(o["obj_id"], {})
                and before[o["obj_id"]][k] == v]
        for k in same:
            del o[k]
        o["same_as_initial"] = same


def _share_masks(model: dict, shown: list) -> None:
    """A shown mask equal to the model output's mask of the object names it (rle_as) instead of repeating it."""
    for o in shown:
        if o["rle"] is not None and o["rle"] == model.get(o["obj_id"], {}).get("rle"):
            o["rle"], o["rle_as"] = None, "model_output"


def _same_outputs(a: dict, b: dict) -> bool:
    """Same object ids, scores and masks (decode details aside)."""
    key = lambda f: [(o["obj_id"], o["object_score_logit"], o["rle"]["counts"]) for o in f["objects"]]
    return a["frame"] == b["frame"] and key(a) == key(b)


TRACKER_FIELDS = {
    "clicks": "the add-points calls in order: the prompt (clip pixels; HF's model-frame points and labels), then "
              "the forward(frame_idx) call's output for every object",
    "initial / refined": "each propagate_in_video_iterator output in order, before and after the refinement click",
    "object_score_logit": "HF's object_score_logits for the object on that frame",
    "decoded": "whether this call ran the decoder for the object (false: HF reused the stored conditioning output; "
               "the decode fields are then those of the call that made it)",
    "initial_conditioning_frame / reverse / points / mask_input": "_run_single_frame_inference's arguments",
    "multimask / iou_scores / token / iou_score / stability_score": "_single_frame_forward: multimask_output, the IoU "
        "estimates it returned (3 candidates, or 1), the chosen mask token (1..3: best IoU of the candidates; 0: the "
        "single-mask token, or 1..3 where HF's stability fallback replaced its mask), the chosen token's IoU, and "
        "token 0's stability score when HF computed it (single-mask output)",
    "memory": "what _prepare_memory_conditioned_features read (absent on an initial conditioning frame, which adds "
              "the no-memory embedding instead): frames = the memory bank as [frame, conditioning (1) or not (0), "
              "temporal offset] "
              "in HF's order (conditioning frames with offset 0, then tracked frames from offset num_maskmem - 1 "
              "down to 1; HF adds memory_temporal_positional_encoding[offset - 1], so [-1], the last, at offset "
              "0); pointers = the object pointers as [frame, conditioning or not, temporal offset], their sine encoding "
              "normalised by max_object_pointers - 1",
    "conditioned_embedding": "on memory_sample_frames: stats of the image embedding the decoder read "
                             "(_prepare_memory_conditioned_features' output, [1, C, g, g])",
    "memory_encoder": "the memory HF encoded for the object on this call (_batch_encode_memories): the objects "
                      "encoded together (batch, object indices), whether each one's prompt was points "
                      "(from_points_per_object) and so whether HF binarised the masks (binarized: any of them; else "
                      "sigmoid), the object score it passed; on memory_sample_frames stats of maskmem_features "
                      "[1, Cm, g, g] with the occlusion embedding added, before (float32) and after (stored, as HF "
                      "keeps it) HF's bfloat16 rounding",
    "area / box / rle": "the mask (see mask, box); rle: compressed COCO RLE, column-major",
    "same_as_initial": "in refined: the fields left out because they equal the object's on the same frame of initial",
}


# ---------------------------------------------------------------- case (b): the video model
class VideoProbe:
    """Per frame of Sam3VideoModel: the detections (nms_masks) and HF's update plan, read around HF's calls."""

    def __init__(self, video):
        from transformers.models.sam3_video import modeling_sam3_video
        self.video, self.module = video, modeling_sam3_video
        self.frames: dict[int, dict] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        nms, plan = self.module.nms_masks, self.video.run_tracker_update_planning_phase
        self._stack.enter_context(mock.patch.object(self.module, "nms_masks", lambda **kw: self._nms(nms, **kw)))
        self._stack.enter_context(mock.patch.object(self.video, "run_tracker_update_planning_phase",
                                                    lambda **kw: self._plan(plan, **kw)))
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def _nms(self, original, **kw):
        keep = original(**kw)
        probs = kw["pred_probs"]
        valid = probs > kw["prob_threshold"]
        self._detections = {"above_threshold": int(valid.sum()), "kept_after_nms": int(keep.sum()),
                            "kept_scores": probs[keep].tolist(), "kept_queries": torch.nonzero(keep)[:, 0].tolist(),
                            "all_scores": probs.tolist()}
        return keep

    def _plan(self, original, **kw):
        plan, metadata = original(**kw)
        listed = lambda v: sorted(int(i) for i in v)
        self.frames[kw["frame_idx"]] = {
            "detections": {k: v for k, v in self._detections.items() if k != "all_scores"},
            "plan": {"tracked_obj_ids_before": [int(i) for i in kw["inference_session"].obj_ids],
                     "new_obj_ids": plan["new_det_obj_ids"], "new_det_queries": [
                         self._detections["kept_queries"][i] for i in plan["new_det_out_inds"]],
                     "unmatched_obj_ids": listed(plan["unmatched_trk_obj_ids"]),
                     "det_to_matched_obj_ids": [listed(v) for v in plan["det_to_matched_trk_obj_ids"].values()],
                     "removed_obj_ids": listed(plan["obj_ids_newly_removed"]),
                     "reconditioned_obj_ids": listed(plan["reconditioned_obj_ids"])},
            "all_scores": self._detections["all_scores"]}
        return plan, metadata


def video_output(out, post: dict, probe: VideoProbe, mask_processor, spec) -> dict:
    """One yielded frame: HF's model output (obj_id_to_mask as masks, before HF hides or separates them; their RLE
    on an object's birth frame and the next frame processed) and its post-processed output."""
    frame = probe.frames[out.frame_idx]
    order = list(probe.frames)
    at = order.index(out.frame_idx)
    born = set(frame["plan"]["new_obj_ids"]) | set(probe.frames[order[at - 1]]["plan"]["new_obj_ids"] if at else [])
    ids = sorted(out.obj_id_to_mask)
    low = torch.cat([out.obj_id_to_mask[i] for i in ids]) if ids else None
    masks = clip_masks(mask_processor, low[:, None], spec["height"], spec["width"]) if ids else []
    model_masks = {int(i): dict(mask_json(m), obj_id=int(i)) for i, m in zip(ids, masks)}
    for i, m in model_masks.items():
        if i not in born:
            m["rle"] = None
    post_masks = [dict(mask_json(np32(m)), obj_id=int(i)) for i, m in zip(post["object_ids"], post["masks"])]
    _share_masks(model_masks, post_masks)
    return {
        "frame": out.frame_idx, "detections": frame["detections"], "plan": frame["plan"],
        "model_output": {
            "object_ids": [int(i) for i in out.object_ids],
            "obj_id_to_score": {str(k): float(v) for k, v in sorted(out.obj_id_to_score.items())},
            "obj_id_to_tracker_score": {str(k): float(v) for k, v in sorted(out.obj_id_to_tracker_score.items())},
            "removed_obj_ids": sorted(int(i) for i in out.removed_obj_ids),
            "suppressed_obj_ids": sorted(int(i) for i in out.suppressed_obj_ids),
            "obj_id_to_mask": {str(i): m for i, m in model_masks.items()}},
        "postprocessed": {
            "object_ids": post["object_ids"].tolist(), "scores": post["scores"].tolist(),
            "boxes": post["boxes"].tolist(), "masks": post_masks,
            "prompt_to_obj_ids": post["prompt_to_obj_ids"]},
    }


def video_run(video, processor, mask_processor, px, spec, reverse: bool) -> tuple[list, list]:
    from transformers.models.sam3_video.modeling_sam3_video import Sam3VideoInferenceSession
    session = Sam3VideoInferenceSession(video=px, video_height=spec["height"], video_width=spec["width"],
                                        dtype=torch.float32)
    processor.add_text_prompt(session, TEXT)
    frames = []
    with VideoProbe(video) as probe:
        # HF's reverse order starts at start_frame_idx - 1 (_get_processing_order): num_frames starts at the last
        start = px.shape[0] if reverse else 0
        for out in video.propagate_in_video_iterator(session, start_frame_idx=start, reverse=reverse):
            post = processor.postprocess_outputs(session, out)
            frames.append(video_output(out, post, probe, mask_processor, spec))
        scores = [f["all_scores"] for f in probe.frames.values()]
    return frames, scores


def video_reference(video, px: torch.Tensor, spec: dict, tok, progress=print) -> dict:
    S = video.tracker_model.image_size
    threshold = DETECTION_THRESHOLDS[S]
    processor = video_processor(S, tok)
    mask_processor = tracker_video_processor(S)
    defaults = {k: getattr(video.config, k) for k in VIDEO_CONFIG_FIELDS}
    changed = {k: threshold for k in THRESHOLD_FIELDS}
    runs, all_scores = {}, []
    patches = [mock.patch.object(video, k, v) for k, v in changed.items()]
    patches += [mock.patch.object(video.config, k, v) for k, v in changed.items()]
    with contextlib.ExitStack() as stack, fixed_pointer_shapes(video.tracker_model), cv_utils.install():
        for p in patches:
            stack.enter_context(p)
        for name, reverse in (("forward", False), ("reverse", True)):
            runs[name], scores = video_run(video, processor, mask_processor, px, spec, reverse)
            all_scores += scores
            progress(f"video: {name} run done ({len(runs[name])} frames)")
    scores = np.asarray(all_scores, dtype=np.float64)
    gaps = np.abs(scores - threshold)
    return {
        "model": "Sam3VideoModel.from_pretrained(pack/hf) with a text prompt (HF's Sam3VideoProcessor.add_text_prompt"
                 "), propagate_in_video_iterator(start_frame_idx, reverse) with HF's hot-start buffering; each "
                 "yielded output through Sam3VideoProcessor.postprocess_outputs when it is yielded",
        "text": TEXT,
        "config": {"used": {k: changed.get(k, v) for k, v in defaults.items()},
                   "changed": {k: {"default": defaults[k], "used": v} for k, v in changed.items()}},
        "thresholds": {"value": threshold, "smallest_margin_to_a_score": float(gaps.min()),
                       "scores_seen": {"min": float(scores.min()), "max": float(scores.max()),
                                       "largest_frame_to_frame_change_of_a_query":
                                           float((scores.max(0) - scores.min(0)).max())},
                       "passing_queries_per_frame": sorted({int(n) for n in (scores > threshold).sum(1)})},
        "mask": MASK_RULE,
        "box": BOX_RULE + " (our masks); postprocessed.boxes are HF's: masks_to_boxes of the masks before HF's "
                          "non-overlap step, x2 / y2 inclusive (the last column / row)",
        "fields": VIDEO_FIELDS,
        "forward": {"start_frame_idx": 0, "reverse": False, "frames": runs["forward"]},
        "reverse": {"start_frame_idx": px.shape[0], "reverse": True, "frames": runs["reverse"]},
    }


VIDEO_FIELDS = {
    "frames": "in the order HF yields them (hot-start buffering: hotstart_delay frames late, all at the end)",
    "detections": "run_detection's nms_masks: queries over score_threshold_detection, kept by NMS (det_nms_thresh) "
                  "with their scores and query indices",
    "plan": "run_tracker_update_planning_phase: the tracked ids before this frame, new objects (ids, detection "
            "queries), tracks matched to no detection, the tracks each kept detection matched (in detection "
            "order), objects removed by hot-start, objects reconditioned",
    "model_output": "Sam3VideoModel.forward's output: object_ids, obj_id_to_score, obj_id_to_tracker_score, "
                    "removed_obj_ids, suppressed_obj_ids, and obj_id_to_mask as masks (see mask): area and box "
                    "always, rle on the object's birth frame (the detection's mask) and the next frame processed "
                    "(its first tracked mask), else null (the size of the file)",
    "postprocessed": "Sam3VideoProcessor.postprocess_outputs: the objects shown (hidden: empty masks, suppressed and "
                     "hot-start removed ids), their scores (obj_id_to_score), HF's boxes, masks after HF's "
                     "object-wise non-overlap step (by tracker score); a mask's rle is null where rle_as is "
                     "'model_output': the same mask as model_output's for the object",
}


# ---------------------------------------------------------------- the file
NOTES = [
    "torchvision is not installed: frames are prepared by HF's Sam3ImageProcessor with its torchvision calls done "
    "by torch (processing.py), at the pack's size; HF's processors are used without their video processor, and "
    "Sam3VideoProcessor's masks_to_boxes is torchvision's, in torch.",
    "Object pointers are flattened to [1, C] before HF stacks them (fixed_pointer_shapes): with mem_dim == hidden "
    "size (the tiny packs) HF's concatenation of memories and pointers fails otherwise.",
    "The optional kernels package is missing, without which transformers 5.17.0's Sam3VideoModel skips NMS "
    "(nms_masks keeps every detection over the threshold) and the hole filling / sprinkle removal of "
    "fill_holes_in_mask_scores; cv_utils.py supplies the kernel's generic_nms (greedy, best score first, drop IoU > "
    "det_nms_thresh) and cc_2d (8-connected components with their areas) in torch.",
    "Random weights: mask logits are ~1e-3, so the masks are speckled; they are kept exact.",
]


def round_floats(value, digits: int = 6):
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(v, digits) for v in value]
    return value


def video_tracking_reference(pack_dir: str, frames: int | None = None, video_case: bool = True,
                             progress=print) -> dict:
    models = load_models(pack_dir)
    video = models["video"]
    spec = load_clip_spec()
    rgb = render_clip(spec)[:frames]
    t0 = time.time()
    px = pixel_values(rgb, video.tracker_model.image_size)
    ref = {"pack": os.path.basename(os.path.abspath(pack_dir)), "clip": clip_json(spec, rgb), "notes": NOTES,
           "tracker": tracker_reference(video, px, spec, progress)}
    progress(f"tracker reference done ({time.time() - t0:.0f}s)")
    if video_case:
        ref["video"] = video_reference(video, px, spec, tokenizer(pack_dir), progress)
        progress(f"video reference done ({time.time() - t0:.0f}s)")
    return round_floats(ref)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sam3_export.video_tracking_reference", description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", required=True, help="a pack folder with hf/config.json + hf/model.safetensors")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--frames", type=int, help="only the first N frames of the clip (a quick check)")
    a = p.parse_args(argv)
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)  # the same sums in the same order on any machine
    ref = video_tracking_reference(a.pack, a.frames)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
