"""HF's SAM 3 processors without torchvision: the reference inputs and post-processing of the parity tests.

`Sam3ImageProcessor` is HF's torchvision backend; torchvision cannot be installed beside this CPU torch. HF's
module imports torchvision only for `batched_nms` (mask generation, unused here) and calls torchvision in three
places on our path. `ImageProcessor` is HF's class with those three replaced by what torchvision computes:
- PIL -> uint8 CHW tensor (`pil_to_tensor`),
- the resize to S x S: torchvision hands a uint8 image on a CPU with AVX2 to torch's native uint8 kernel,
  `F.interpolate(uint8, mode="bilinear", antialias=True, align_corners=False)` (fixed-point weights, rounded to 8
  bits between the two passes); `resize_uint8_float` is its path elsewhere (float32, rounded back to uint8),
- `normalize`: (x - mean) / std in float32; HF fuses the 1/255 rescale into mean = std = 0.5 * 255.
Everything else (the order of steps, original_sizes, post_process_instance_segmentation, post_process_masks) is
HF's own code, and HF's `Sam3Processor` / `Sam3TrackerProcessor` (tokenizer, point scaling) take this processor.
"""
from __future__ import annotations

import importlib
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F


def _hf_image_processing_module():
    """transformers.models.sam3.image_processing_sam3, imported with a stand-in for torchvision.ops.boxes (whose
    batched_nms only mask generation calls); the stand-in is removed again, so nothing else sees a torchvision."""
    name = "transformers.models.sam3.image_processing_sam3"
    if name in sys.modules:
        return sys.modules[name]
    import transformers.image_processing_backends  # noqa: F401  (decides torchvision is absent before the stand-in)

    def batched_nms(*args, **kwargs):
        raise RuntimeError("torchvision's batched_nms is not available here (only mask generation calls it)")

    stand_in = {n: types.ModuleType(n) for n in ("torchvision", "torchvision.ops", "torchvision.ops.boxes")}
    stand_in["torchvision.ops.boxes"].batched_nms = batched_nms
    sys.modules.update(stand_in)
    try:
        return importlib.import_module(name)
    finally:
        for n in stand_in:
            sys.modules.pop(n, None)


def resize_uint8(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """torchvision's bilinear antialiased resize of a uint8 [N, C, H, W] image on a CPU with AVX2."""
    return F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False, antialias=True)


def resize_uint8_float(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """torchvision's path without AVX2 (or on a GPU): the same resize in float32, rounded back to uint8."""
    out = F.interpolate(image.float(), size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out.round_().to(torch.uint8)


def image_processor(size: int, resize=resize_uint8):
    """HF's Sam3ImageProcessor for S x S inputs, on torch alone (see the module docstring)."""
    hf = _hf_image_processing_module()

    class Sam3ImageProcessor(hf.Sam3ImageProcessor):  # HF's name: its to_json_string names the class
        def process_image(self, image, do_convert_rgb=None, input_data_format=None, device=None, **kwargs):
            from PIL import Image
            if isinstance(image, Image.Image):
                if do_convert_rgb:
                    image = self.convert_to_rgb(image)
                image = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)
            return super().process_image(image, do_convert_rgb=False, input_data_format=input_data_format,
                                         device=device, **kwargs)

        def resize(self, image, size, resample=None, antialias=True, **kwargs):
            if image.dtype != torch.uint8 or not antialias or not (size.height and size.width):
                raise ValueError("the reference processor resizes uint8 images to height x width with antialiasing only")
            return resize(image, size.height, size.width)

        def normalize(self, image, mean, std, **kwargs):
            mean = torch.as_tensor(mean, dtype=image.dtype).view(-1, 1, 1)
            std = torch.as_tensor(std, dtype=image.dtype).view(-1, 1, 1)
            return image.sub(mean).div_(std)

    return Sam3ImageProcessor(size={"height": size, "width": size})


def detector_processor(size: int, tokenizer, resize=resize_uint8):
    """HF's Sam3Processor (images, text prompts, exemplar boxes; post_process_instance_segmentation)."""
    from transformers import Sam3Processor
    return Sam3Processor(image_processor=image_processor(size, resize), tokenizer=tokenizer)


def tracker_processor(size: int, resize=resize_uint8):
    """HF's Sam3TrackerProcessor (images, points scaled to the model frame; post_process_masks)."""
    from transformers import Sam3TrackerProcessor
    return Sam3TrackerProcessor(image_processor=image_processor(size, resize))


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """torchvision.ops.masks_to_boxes: [N, 4] float boxes x1, y1, x2, y2 of non-empty [N, H, W] masks, x2 / y2 the
    last column / row covered (inclusive)."""
    boxes = torch.zeros((masks.shape[0], 4), dtype=torch.float)
    for i, mask in enumerate(masks):
        y, x = torch.where(mask != 0)
        boxes[i] = torch.stack([x.min(), y.min(), x.max(), y.max()]).float()
    return boxes


def tracker_video_processor(size: int, resize=resize_uint8):
    """HF's Sam3TrackerVideoProcessor for sessions whose frames the caller prepares with `image_processor` (HF's
    video processor needs torchvision): its prompt handling (add_inputs_to_inference_session) and post_process_masks."""
    from transformers import Sam3TrackerVideoProcessor as HF

    class Sam3TrackerVideoProcessor(HF):
        def __init__(self, image_processor):  # ProcessorMixin's own checks want a torchvision video processor
            self.image_processor = image_processor
            self.point_pad_value = -10
            self.target_size = image_processor.size["height"]

    return Sam3TrackerVideoProcessor(image_processor(size, resize))


def video_processor(size: int, tokenizer, resize=resize_uint8):
    """HF's Sam3VideoProcessor for sessions whose frames the caller prepares with `image_processor`: add_text_prompt
    and postprocess_outputs, with torchvision's masks_to_boxes done by torch."""
    module = importlib.import_module("transformers.models.sam3_video.processing_sam3_video")
    module.masks_to_boxes = masks_to_boxes  # imported there only when torchvision is installed

    class Sam3VideoProcessor(module.Sam3VideoProcessor):
        def __init__(self, image_processor, tokenizer):  # as tracker_video_processor's
            self.image_processor = image_processor
            self.tokenizer = tokenizer
            self.target_size = image_processor.size["height"]

    return Sam3VideoProcessor(image_processor(size, resize), tokenizer)
