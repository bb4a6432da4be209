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


NO_OBJECT_SCORE = -1024.0  # HF's NO_OBJ_SCORE: the mask logits of a frame where the object is not seen


class VideoTrackerDecoder(torch.nn.Module):
    """The video tracker's prompt encoder + mask decoder for one object on one frame, returning every mask token.

    Inputs: image_embeddings_0..2 (on a frame with memory, image_embeddings_2 is memory attention's output),
    input_points [1,1,N,2] in model-frame pixels and input_labels [1,1,N] (a box is its two corners with labels 2
    and 3), and with_mask: input_masks [1,1,4g,4g] (mask logits as a dense prompt).
    Outputs: pred_masks [1,1,4,4g,4g] and iou_scores [1,1,4] for the 4 mask tokens (0: the single-mask output,
    1..3: the multimask candidates), object_score_logits [1,1,1], object_pointers [1,1,4,C] (the pointer of each
    token; where the object score is <= 0, the learned no-object pointer, as in HF
    `Sam3TrackerVideoModel._single_frame_forward`). The caller chooses the token as HF does: for a multimask prompt
    the best IoU of 1..3 (mask and pointer); else token 0, whose mask HF replaces by the best of 1..3 when its
    stability score (area > 0.05 over area > -0.05) is under 0.98, keeping token 0's pointer. Then, where the
    object score is <= 0, the chosen mask's logits are set to NO_OBJECT_SCORE (-1024)."""

    def __init__(self, video_model, with_mask: bool):
        super().__init__()
        self.t = video_model.tracker_model
        self.with_mask = with_mask

    def forward(self, e0, e1, e2, input_points, input_labels, *mask):
        t = self.t
        pe = t.prompt_encoder
        sparse = pe._embed_points(input_points, input_labels, pad=True)
        if self.with_mask:
            dense = pe.mask_embed(mask[0])
        else:
            dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, e2.shape[-2], e2.shape[-1])
        masks, iou, tokens, obj = _mask_decoder_all_tokens(t.mask_decoder, e2, t.get_image_wide_positional_embeddings(),
                                                           sparse, dense, [e0, e1])
        seen = obj > 0  # [1, 1, 1]
        pointers = t.object_pointer_proj(tokens)
        w = seen.to(pointers.dtype)[..., None]
        pointers = w * pointers + (1 - w) * t.no_object_pointer
        return masks, iou, obj, pointers


def _mask_decoder_all_tokens(md, image_embeddings, image_pe, sparse, dense, high_res):
    """HF Sam3TrackerVideoMaskDecoder.forward up to its choice of tokens: masks, IoU and output tokens of all
    mask tokens, and the object score logits."""
    batch_size, num_channels, height, width = image_embeddings.shape
    point_batch_size = sparse.shape[1]
    output_tokens = torch.cat([md.obj_score_token.weight, md.iou_token.weight, md.mask_tokens.weight], dim=0)
    output_tokens = output_tokens.repeat(batch_size, point_batch_size, 1, 1)
    tokens = torch.cat((output_tokens, sparse), dim=2).to(md.iou_token.weight.dtype)
    image_embeddings = (image_embeddings + dense).repeat_interleave(point_batch_size, dim=0)
    image_pe = image_pe.repeat_interleave(point_batch_size, 0)
    point_embeddings, image_embeddings = md.transformer(point_embeddings=tokens, image_embeddings=image_embeddings,
                                                        image_positional_embeddings=image_pe, attention_similarity=None,
                                                        target_embedding=None)
    iou_token_out = point_embeddings[:, :, 1, :]
    mask_tokens_out = point_embeddings[:, :, 2:(2 + md.num_mask_tokens), :]
    image_embeddings = image_embeddings.transpose(2, 3).view(batch_size * point_batch_size, num_channels, height, width)
    feat_s0, feat_s1 = high_res
    feat_s0 = feat_s0.repeat_interleave(point_batch_size, dim=0)
    feat_s1 = feat_s1.repeat_interleave(point_batch_size, dim=0)
    up = md.upscale_conv1(image_embeddings) + feat_s1
    up = md.activation(md.upscale_layer_norm(up))
    up = md.activation(md.upscale_conv2(up) + feat_s0)
    hyper_in = torch.stack([md.output_hypernetworks_mlps[i](mask_tokens_out[:, :, i, :])
                            for i in range(md.num_mask_tokens)], dim=2)
    _, c, h, w = up.shape
    up = up.view(batch_size, point_batch_size, c, h * w)
    masks = (hyper_in @ up).view(batch_size, point_batch_size, -1, h, w)
    iou_pred = md.iou_prediction_head(iou_token_out)
    object_score_logits = md.pred_obj_score_head(point_embeddings[:, :, 0, :])
    return masks, iou_pred, mask_tokens_out, object_score_logits
