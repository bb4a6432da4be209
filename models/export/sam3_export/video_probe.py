"""What HF's Sam3TrackerVideoModel selects and computes inside a real run, read by wrapping its own methods on one
model instance (nothing is re-implemented): per object and frame, the decode (multimask or not, IoU estimates, the
chosen mask token, object score), the memory bank and object pointers memory attention read (frames, conditioning
or not, temporal offsets), the memory-conditioned embedding the decoder read, and the memory encoder's features
before and after HF rounds them to bfloat16 for storage.

    with TrackerProbe(tracker, session, sample_frames) as probe:
        out = tracker(inference_session=session, frame_idx=f)
        events = probe.take()  # {obj_idx: {...}} of that call
"""
from __future__ import annotations

import contextlib
from unittest import mock

import torch

from .references import np32, stats


def _where(session, obj_idx: int, found, key: str) -> tuple[int, int]:
    """(frame, 1 if conditioning else 0) of the stored output (or its `key` entry) that is `found`, by identity."""
    per_obj = session.output_dict_per_obj[obj_idx]
    for kind in ("cond_frame_outputs", "non_cond_frame_outputs"):
        for frame, out in per_obj[kind].items():
            if (out if key is None else out.get(key)) is found:
                return frame, int(kind == "cond_frame_outputs")
    raise LookupError("a memory entry HF read is not in the session's outputs")


class TrackerProbe:
    def __init__(self, tracker, session, sample_frames=()):
        self.t, self.session, self.sample_frames = tracker, session, set(sample_frames)
        self.events: dict[int, dict] = {}
        self.current: dict | None = None
        self._stack = contextlib.ExitStack()
        self._encoded = None

    def take(self) -> dict[int, dict]:
        events, self.events = self.events, {}
        return events

    def __enter__(self):
        t = self.t
        for name in ("_run_single_frame_inference", "_single_frame_forward", "_prepare_memory_conditioned_features",
                     "_gather_memory_frame_outputs", "_get_object_pointers", "_batch_encode_memories"):
            self._stack.enter_context(mock.patch.object(t, name, self._wrap(name, getattr(t, name))))
        md = t.mask_decoder
        self._stack.enter_context(mock.patch.object(md, "_dynamic_multimask_via_stability",
                                                    self._wrap("_dynamic_multimask_via_stability",
                                                               md._dynamic_multimask_via_stability)))
        hook = t.memory_encoder.register_forward_hook(self._memory_encoder_output)
        self._stack.callback(hook.remove)
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def _wrap(self, name, original):
        handler = getattr(self, name)
        return lambda *args, **kwargs: handler(original, *args, **kwargs)

    # ------------------------------------------------------------ decoding
    def _run_single_frame_inference(self, original, **kw):
        frame, obj = kw["frame_idx"], kw["obj_idx"]
        points = kw["point_inputs"]
        self.current = {"frame": frame, "obj_idx": obj, "initial_conditioning_frame": kw["is_init_cond_frame"],
                        "reverse": kw["reverse"], "points": 0 if points is None else int(points["point_labels"].shape[-1]),
                        "mask_input": kw["mask_inputs"] is not None}
        try:
            out = original(**kw)
        finally:
            event, self.current = self.current, None
        self.events[obj] = event
        return out

    def _single_frame_forward(self, original, *args, **kw):
        out = original(*args, **kw)
        if self.current is not None and "decoder" not in self.current:
            multimask = kw.get("multimask_output", True)
            iou = out.iou_scores.reshape(-1)
            token = 1 + int(torch.argmax(iou)) if multimask else self.current.pop("single_mask_token", 0)
            self.current["decoder"] = {
                "multimask": multimask, "iou_scores": iou.tolist(), "token": token,
                "iou_score": float(iou.max() if multimask else iou[0]),
                "stability_score": self.current.pop("stability_score", None)}
        return out

    def _dynamic_multimask_via_stability(self, original, all_mask_logits, all_iou_scores):
        masks, iou = original(all_mask_logits, all_iou_scores)
        if self.current is not None:
            single = all_mask_logits[:, :, 0:1]
            self.current["stability_score"] = float(self.t.mask_decoder._get_stability_scores(single).reshape(-1)[0])
            self.current["single_mask_token"] = (
                0 if torch.equal(masks, single) else 1 + int(torch.argmax(all_iou_scores[:, :, 1:])))
        return masks, iou

    # ------------------------------------------------------------ memory attention
    def _prepare_memory_conditioned_features(self, original, **kw):
        out = original(**kw)
        if self.current is not None and kw["frame_idx"] in self.sample_frames:
            self.current["conditioned_embedding"] = stats(np32(out))
        return out

    def _gather_memory_frame_outputs(self, original, inference_session, obj_idx, frame_idx, track_in_reverse_time=False):
        bank = original(inference_session, obj_idx, frame_idx, track_in_reverse_time)
        if self.current is not None:
            # HF skips the empty slots (_build_memory_attention_inputs)
            self.current.setdefault("memory", {"frames": [], "pointers": []})["frames"] = [
                [*_where(inference_session, obj_idx, out, None), offset] for offset, out in bank if out is not None]
        return bank

    def _get_object_pointers(self, original, inference_session, obj_idx, frame_idx, num_total_frames, device,
                             track_in_reverse_time=False, streaming=False):
        offsets, pointers, max_pointers = original(inference_session, obj_idx, frame_idx, num_total_frames, device,
                                                   track_in_reverse_time, streaming)
        if self.current is not None:
            memory = self.current.setdefault("memory", {"frames": [], "pointers": []})
            memory["pointers"] = [[*_where(inference_session, obj_idx, p, "object_pointer"), o]
                                  for o, p in zip(offsets, pointers)]
            memory["max_object_pointers"] = max_pointers
        return offsets, pointers, max_pointers

    # ------------------------------------------------------------ memory encoder
    def _memory_encoder_output(self, module, inputs, output):
        # _encode_new_memory adds the occlusion embedding to this tensor in place, then stores a bfloat16 copy:
        # read after the call, it holds the float32 features HF rounds
        self._encoded = output[0]

    def _batch_encode_memories(self, original, **kw):
        frame, objects = kw["frame_idx"], kw["objects_needing_memory_encoding"]
        self._encoded = None
        original(**kw)
        for i, obj in enumerate(objects):
            event = self.events.setdefault(obj, {"frame": frame, "obj_idx": obj})
            entry = {"from_points_per_object": list(kw["is_mask_from_pts_per_obj"]),
                     "binarized": any(kw["is_mask_from_pts_per_obj"]),
                     "object_score_logit": float(kw["object_score_logits_for_memory"][i].reshape(-1)[0]),
                     "batch_obj_ids": [self.session.obj_idx_to_id(o) for o in objects]}
            if frame in self.sample_frames:
                per_obj = self.session.output_dict_per_obj[obj]
                stored = (per_obj["cond_frame_outputs"].get(frame) or per_obj["non_cond_frame_outputs"][frame])
                entry["maskmem_features_float32"] = stats(np32(self._encoded[i:i + 1]))
                kept = stored["maskmem_features"]  # [HW, 1, Cm]
                nchw = kept.float().permute(1, 2, 0).reshape(1, -1, *self.t.backbone_feature_sizes[-1])
                entry["maskmem_features_stored"] = dict(stats(np32(nchw)), dtype=str(kept.dtype).replace("torch.", ""))
            event["memory_encoder"] = entry
