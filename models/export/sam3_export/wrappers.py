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


class TextEncoder(torch.nn.Module):
    """input_ids, attention_mask [N, 32] -> text_features [N, 32, C] (projected CLIP text features)."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, input_ids, attention_mask):
        return self.m.get_text_features(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).pooler_output


class MaskedTextEncoder(TextEncoder):
    """TextEncoder that also gives the decoder's text mask: text_features and text_mask [N, 32] bool (true on the
    prompt's tokens), as usls's text-encoder.onnx."""

    def forward(self, input_ids, attention_mask):
        return super().forward(input_ids, attention_mask), attention_mask != 0


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


class BoolMaskDetectorDecoder(DetectorDecoder):
    """DetectorDecoder with exemplar boxes as usls's geo-encoder-mask-decoder.onnx: text_mask is bool (true on the
    prompt's tokens), and the outputs stop before the semantic map."""

    def __init__(self, model):
        super().__init__(model, True)

    def forward(self, f0, f1, f2, f3, p0, p1, p2, p3, text_features, text_mask, input_boxes, input_boxes_labels):
        return super().forward(f0, f1, f2, f3, p0, p1, p2, p3, text_features, text_mask.to(torch.int64),
                               input_boxes, input_boxes_labels)[:4]


class Backbone(torch.nn.Module):
    """pixel_values -> the detector's FPN features AND the tracker's image embeddings from ONE pass of the ViT.

    As HF `Sam3VideoModel` does per frame: the detector's vision encoder (ViT + detector neck) runs once, and the
    tracker neck reads the same ViT output (`get_vision_features_for_tracker`), with the mask decoder's conv_s0 /
    conv_s1 applied to the two high-resolution levels. Outputs, in order:
    fpn_feat_0..3, fpn_pos_0..3 (the detector's), image_embeddings_0..2 (the tracker's: level 2 carries the
    no-memory embedding, for a frame without memory), tracker_feat_2 (level 2 without it: the input of memory
    attention) and tracker_pos_2 (its position encoding). `outputs` keeps a slice of them (DETECTOR_OUTPUTS for the
    vision encoder, TRACKER_OUTPUTS for the tracker vision encoder) or the ones at given indices; tracing drops what
    they do not use."""

    def __init__(self, video_model, outputs: slice | tuple = slice(None)):
        super().__init__()
        self.m = video_model
        self.outputs = outputs

    def forward(self, pixel_values):
        ve = self.m.detector_model.get_vision_features(pixel_values=pixel_values)
        feats, pos = self.m.get_vision_features_for_tracker(vision_embeds=ve)  # [HW, B, C] per level 0..2
        tracker = self.m.tracker_model
        batch = pixel_values.shape[0]
        sizes = tracker.backbone_feature_sizes
        nchw = lambda x, size: x.permute(1, 2, 0).reshape(batch, -1, size[0], size[1])
        emb = [nchw(f, s) for f, s in zip(feats[:-1], sizes[:-1])]
        emb.append(nchw(feats[-1] + tracker.no_memory_embedding, sizes[-1]))
        out = (tuple(ve.fpn_hidden_states) + tuple(ve.fpn_position_encoding) + tuple(emb)
               + (nchw(feats[-1], sizes[-1]), nchw(pos[-1], sizes[-1])))
        return out[self.outputs] if isinstance(self.outputs, slice) else tuple(out[i] for i in self.outputs)


DETECTOR_OUTPUTS = slice(0, 8)  # fpn_feat_0..3, fpn_pos_0..3
DETECTOR_DECODER_INPUTS = (0, 1, 2, 6)  # fpn_feat_0..2, fpn_pos_2: the levels the detector decoder reads
TRACKER_OUTPUTS = slice(8, 11)  # image_embeddings_0..2


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

    def decode(self, e0, e1, e2, sparse, mask):
        """Mask decoder on the prompt's sparse embeddings (and a mask): masks, IoU and output tokens of all 4 mask
        tokens, object score."""
        t = self.t
        pe = t.prompt_encoder
        if self.with_mask:
            dense = pe.mask_embed(mask[0])
        else:
            dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, e2.shape[-2], e2.shape[-1])
        return _mask_decoder_all_tokens(t.mask_decoder, e2, t.get_image_wide_positional_embeddings(), sparse, dense,
                                        [e0, e1])

    def points(self, input_points, input_labels):
        """The sparse embeddings of points alone: HF pads them with one not-a-point."""
        return self.t.prompt_encoder._embed_points(input_points, input_labels, pad=True)

    def forward(self, e0, e1, e2, input_points, input_labels, *mask):
        masks, iou, tokens, obj = self.decode(e0, e1, e2, self.points(input_points, input_labels), mask)
        seen = obj > 0  # [1, 1, 1]
        pointers = self.t.object_pointer_proj(tokens)
        w = seen.to(pointers.dtype)[..., None]
        pointers = w * pointers + (1 - w) * self.t.no_object_pointer
        return masks, iou, obj, pointers


class TrackerDecoder(VideoTrackerDecoder):
    """The interactive (image) tracker decoder: the video tracker's prompt encoder + mask decoder with multimask
    output, as HF `Sam3TrackerModel` gives it with multimask_output=True (no memory, no token choice).
    Inputs as VideoTrackerDecoder; outputs iou_scores [1,1,3], pred_masks [1,1,3,4g,4g] (tokens 1..3) and
    object_score_logits [1,1,1]."""

    def forward(self, e0, e1, e2, input_points, input_labels, *mask):
        masks, iou, _, obj = self.decode(e0, e1, e2, self.points(input_points, input_labels), mask)
        return iou[:, :, 1:], masks[:, :, 1:], obj


class BoxTrackerDecoder(TrackerDecoder):
    """The image tracker decoder as the public exports give it (onnx-community/sam3-tracker-ONNX, usls): HF
    `Sam3TrackerModel`'s prompt encoder + mask decoder with multimask_output=True and a box input, no mask input.

    Inputs: input_points [B,1,N,2] (N may be 0) and input_labels [B,1,N] in model-frame pixels, input_boxes [B,n,4]
    (xyxy model-frame pixels, n = 0 or 1), image_embeddings.0..2. As HF: without a box the points get one
    not-a-point token after them; with a box they get none and the box's 3 tokens (its corners and a not-a-point)
    follow. A traced graph cannot branch on n, so the pad count is 1 - n (a slice of that length). Outputs as
    TrackerDecoder."""

    def __init__(self, video_model):
        super().__init__(video_model, False)

    def forward(self, input_points, input_labels, input_boxes, e0, e1, e2):
        pe = self.t.prompt_encoder
        batch, n = input_points.shape[0], input_boxes.shape[1]
        pad_points = input_points.new_zeros(batch, 1, 1, 2)[:, :, :1 - n]
        pad_labels = input_labels.new_full((batch, 1, 1), -1)[:, :, :1 - n]
        points = pe._embed_points(torch.cat([input_points, pad_points], dim=2),
                                  torch.cat([input_labels, pad_labels], dim=2), pad=False)
        boxes = pe._embed_boxes(input_boxes).flatten(1, 2).unsqueeze(1)  # [B, n, 3, C] -> [B, 1, 3n, C]
        masks, iou, _, obj = self.decode(e0, e1, e2, torch.cat([points, boxes], dim=2), ())
        return iou[:, :, 1:], masks[:, :, 1:], obj


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


def _antialias_taps(n_in: int, n_out: int):
    """The two taps of each output of torch's bilinear antialias resize from n_in to n_out > n_in: input indices
    and weights, read off torch itself (the resize of an identity matrix along one axis)."""
    eye = torch.eye(n_in)[None, None]
    W = torch.nn.functional.interpolate(eye, size=(n_out, n_in), mode="bilinear", align_corners=False,
                                        antialias=True)[0, 0]
    assert int((W != 0).sum(1).max()) <= 2
    rows = torch.arange(n_out)
    i0 = (W != 0).to(torch.int64).argmax(1)
    i1 = torch.clamp(i0 + 1, max=n_in - 1)
    w0 = W[rows, i0]
    w1 = torch.where(i1 > i0, W[rows, i1], torch.zeros(()))
    return i0, i1, w0, w1


def upsample_antialias(x, height: int, width: int, taps=None):
    """F.interpolate(x, (height, width), mode="bilinear", align_corners=False, antialias=True) for an upsampling,
    equal to torch's CPU kernel bit for bit: it resizes the width, then the height, each output as
    fma(x1, w1, x0 * w0) (the fused multiply-add done in float64 and rounded once to float32). Exports to Gather,
    Mul, Add and Cast (opset 17 has no antialias Resize). taps: (width taps, height taps) made before tracing."""
    def one_axis(x, axis, taps):
        i0, i1, w0, w1 = taps
        shape = [1] * x.dim()
        shape[axis] = -1
        w0, w1 = w0.reshape(shape), w1.reshape(shape)
        p0 = x.index_select(axis, i0) * w0
        return (x.index_select(axis, i1).double() * w1.double() + p0.double()).float()
    tw, th = taps or (_antialias_taps(x.shape[3], width), _antialias_taps(x.shape[2], height))
    return one_axis(one_axis(x, 3, tw), 2, th)


class MemoryEncoder(torch.nn.Module):
    """One frame's memory, as HF `Sam3TrackerVideoModel._encode_new_memory` computes it (for B objects at once).

    Inputs: tracker_feat_2 [1,C,g,g] (the backbone's level-2 tracker features, without the no-memory embedding),
    high_res_masks [B,1,S,S] (the mask logits HF keeps as `high_res_masks`: the chosen low-res logits upsampled to
    S x S, bilinear, align_corners=False; or the mask prompt as 20 * mask - 10), object_score_logits [B,1,1] and
    mask_from_prompt [1] bool (True on a frame with a click or mask prompt: the logits are binarised at 0 instead
    of passed through the sigmoid). The graph resizes the masks to 16g x 16g (bilinear, as HF: an upsampling, where
    HF's antialias does not change the result), applies sigmoid_scale / sigmoid_bias, runs the memory encoder, adds
    the occlusion embedding where the object score is <= 0.
    Outputs: maskmem_features [B,Cm,g,g] and maskmem_pos_enc [B,Cm,g,g], float32. HF stores the features rounded to
    bfloat16 (round to nearest even) and memory attention reads them so: the caller rounds them before storing."""

    def __init__(self, video_model):
        super().__init__()
        self.t = t = video_model.tracker_model
        h, w = t.prompt_encoder.mask_input_size
        self.size = (4 * h, 4 * w)
        self.taps = (_antialias_taps(t.image_size, 4 * w), _antialias_taps(t.image_size, 4 * h))

    def forward(self, tracker_feat_2, high_res_masks, object_score_logits, mask_from_prompt):
        t = self.t
        m = upsample_antialias(high_res_masks, *self.size, taps=self.taps)
        mask = torch.where(mask_from_prompt.reshape(1, 1, 1, 1), (m > 0).to(m.dtype), torch.sigmoid(m))
        mask = mask * t.config.sigmoid_scale_for_mem_enc
        mask = mask + t.config.sigmoid_bias_for_mem_enc
        pix = tracker_feat_2.expand(high_res_masks.shape[0], -1, -1, -1)
        feats, pos = t.memory_encoder(pix, mask)
        if t.occlusion_spatial_embedding_parameter is not None:
            seen = (object_score_logits > 0).float()
            feats = feats + (1 - seen[..., None]) * t.occlusion_spatial_embedding_parameter[..., None, None]
        return feats, pos.expand(feats.shape[0], -1, -1, -1)


class MemoryAttention(torch.nn.Module):
    """The memory-conditioned image embedding of one object on a frame with memory, as HF
    `Sam3TrackerVideoModel._prepare_memory_conditioned_features` computes it from the gathered memory.

    Inputs: tracker_feat_2, tracker_pos_2 [1,C,g,g] (the backbone's); memory_features, memory_pos_enc [N,Cm,g,g]
    (the memory encoder's outputs of N memory frames, in HF's order: conditioning frames first, then the others
    from the oldest); memory_offsets [N] int64 (0 for a conditioning frame, else how many frames back: the
    temporal encoding row offset - 1, row num_maskmem - 1 for 0); object_pointers [M,C] (conditioning frames'
    pointers first, then the others from the nearest), object_pointer_offsets [M] int64 (their temporal
    differences) and object_pointer_max_offset [1] float32 (HF's max_object_pointers_to_use - 1; the pointer
    temporal encoding is the sine encoding of offset / max, projected to Cm). N and M are dynamic.
    Output: image_embeddings_2 [1,C,g,g], the tracker decoder's level-2 input."""

    def __init__(self, video_model):
        super().__init__()
        self.t = video_model.tracker_model

    def forward(self, tracker_feat_2, tracker_pos_2, memory_features, memory_pos_enc, memory_offsets,
                object_pointers, object_pointer_offsets, object_pointer_max_offset):
        from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import get_1d_sine_pe
        t = self.t
        C, mem_dim = t.hidden_dim, t.mem_dim
        seq = lambda x: x.flatten(2).permute(2, 0, 1)  # [B, C, H, W] -> [HW, B, C]
        cur, cur_pos = seq(tracker_feat_2), seq(tracker_pos_2)
        memory = memory_features.flatten(2).permute(0, 2, 1).reshape(-1, 1, mem_dim)  # [N*HW, 1, Cm]
        rows = torch.remainder(memory_offsets - 1, t.num_maskmem)
        tpos = t.memory_temporal_positional_encoding.index_select(0, rows).reshape(-1, 1, mem_dim)  # [N, 1, Cm]
        memory_pos = (memory_pos_enc.flatten(2).permute(0, 2, 1) + tpos).reshape(-1, 1, mem_dim)
        pointers = object_pointers[:, None, :]  # [M, 1, C]
        if t.config.enable_temporal_pos_encoding_for_object_pointers:
            diffs = object_pointer_offsets.to(torch.float32) / object_pointer_max_offset
            pointer_pos = t.temporal_positional_encoding_projection_layer(get_1d_sine_pe(diffs, dim=C))[:, None, :]
        else:
            pointer_pos = pointers.new_zeros(pointers.shape[0], 1, mem_dim)
        if mem_dim < C:
            splits = C // mem_dim
            pointers = pointers.reshape(-1, 1, splits, mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
            pointer_pos = pointer_pos.repeat_interleave(splits, dim=0)
        out = t.memory_attention(current_vision_features=cur, current_vision_position_embeddings=cur_pos,
                                 memory=torch.cat([memory, pointers], dim=0),
                                 memory_posision_embeddings=torch.cat([memory_pos, pointer_pos], dim=0),
                                 num_object_pointer_tokens=pointers.shape[0])
        g = t.backbone_feature_sizes[-1]
        return out.squeeze(1).transpose(1, 2).reshape(1, C, g[0], g[1])
