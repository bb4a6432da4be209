"""torch.nn.Module wrappers that give each pack role (one ONNX graph) plain tensor inputs and outputs.

Each wrapper calls the Hugging Face model the way its role is used at run time; the tensor names are in
`roles.py`.
"""
from __future__ import annotations

import torch


def _text_output(t: torch.Tensor):
    """transformers >= 5 takes text_embeds as the text model's output object, not the bare projected tensor."""
    from transformers.modeling_outputs import BaseModelOutputWithPooling
    return BaseModelOutputWithPooling(last_hidden_state=t, pooler_output=t)


class DetectorVision(torch.nn.Module):
    """pixel_values -> fpn_feat_0..3, fpn_pos_0..3 (the detector's vision encoder: ViT + FPN neck)."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, pixel_values):
        o = self.m.get_vision_features(pixel_values=pixel_values)
        return tuple(o.fpn_hidden_states) + tuple(o.fpn_position_encoding)


class TextEncoder(torch.nn.Module):
    """input_ids, attention_mask [N, 32] -> text_features [N, 32, C] (projected CLIP text features)."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, input_ids, attention_mask):
        return self.m.get_text_features(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).pooler_output


class DetectorDecoder(torch.nn.Module):
    """FPN features + text features (+ exemplar boxes) -> masks, boxes, logits, presence, semantic map."""

    def __init__(self, model, boxes: bool):
        super().__init__()
        self.m = model
        self.boxes = boxes

    def forward(self, f0, f1, f2, f3, p0, p1, p2, p3, text_features, text_mask, *box_args):
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput
        ve = Sam3VisionEncoderOutput(fpn_hidden_states=(f0, f1, f2, f3), fpn_position_encoding=(p0, p1, p2, p3))
        kw = dict(input_boxes=box_args[0], input_boxes_labels=box_args[1]) if self.boxes else {}
        o = self.m(vision_embeds=ve, text_embeds=_text_output(text_features), attention_mask=text_mask, **kw)
        return o.pred_masks, o.pred_boxes, o.pred_logits, o.presence_logits, o.semantic_seg


class TrackerVision(torch.nn.Module):
    """pixel_values -> image_embeddings_0..2 (the tracker's ViT + its own neck, high-res levels first)."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, pixel_values):
        return tuple(self.m.get_image_embeddings(pixel_values))


class TrackerDecoder(torch.nn.Module):
    """image embeddings + points/labels (+ previous low-res mask logits) -> iou_scores, pred_masks, object score."""

    def __init__(self, model, with_mask: bool):
        super().__init__()
        self.m = model
        self.with_mask = with_mask

    def forward(self, e0, e1, e2, input_points, input_labels, *mask):
        kw = {"input_masks": mask[0]} if self.with_mask else {}
        o = self.m(image_embeddings=[e0, e1, e2], input_points=input_points, input_labels=input_labels,
                   multimask_output=True, **kw)
        return o.iou_scores, o.pred_masks, o.object_score_logits


class Backbone(torch.nn.Module):
    """pixel_values -> the detector's FPN features AND the tracker's image embeddings from ONE pass of the ViT.

    As HF `Sam3VideoModel` does per frame: the detector's vision encoder (ViT + detector neck) runs once, and the
    tracker neck reads the same ViT output (`get_vision_features_for_tracker`), with the mask decoder's conv_s0 /
    conv_s1 applied to the two high-resolution levels. Outputs, in order:
    fpn_feat_0..3, fpn_pos_0..3 (as the vision encoder), image_embeddings_0..2 (as the tracker vision encoder:
    level 2 carries the no-memory embedding, for a frame without memory), tracker_feat_2 (level 2 without it: the
    input of memory attention) and tracker_pos_2 (its position encoding)."""

    def __init__(self, video_model):
        super().__init__()
        self.m = video_model

    def forward(self, pixel_values):
        ve = self.m.detector_model.get_vision_features(pixel_values=pixel_values)
        feats, pos = self.m.get_vision_features_for_tracker(vision_embeds=ve)  # [HW, B, C] per level 0..2
        tracker = self.m.tracker_model
        batch = pixel_values.shape[0]
        sizes = tracker.backbone_feature_sizes
        nchw = lambda x, size: x.permute(1, 2, 0).reshape(batch, -1, size[0], size[1])
        emb = [nchw(f, s) for f, s in zip(feats[:-1], sizes[:-1])]
        emb.append(nchw(feats[-1] + tracker.no_memory_embedding, sizes[-1]))
        return (tuple(ve.fpn_hidden_states) + tuple(ve.fpn_position_encoding) + tuple(emb)
                + (nchw(feats[-1], sizes[-1]), nchw(pos[-1], sizes[-1])))
