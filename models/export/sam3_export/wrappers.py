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
