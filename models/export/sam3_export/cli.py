"""Command line: python -m sam3_export --from tiny-336 --out DIR"""
from __future__ import annotations

import argparse
import sys

from . import configs


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m sam3_export", description="Export SAM 3 to an ONNX model pack.")
    p.add_argument("--from", dest="source", required=True, choices=sorted(configs.PRESETS),
                   help="what to export: a tiny random-weight pack rebuilt from its config and seeds")
    p.add_argument("--out", required=True, help="output folder of the pack (made if missing)")
    p.add_argument("--roles", default=None, help="comma-separated manifest roles to export (default: all)")
    p.add_argument("--video", action="store_true", help="also export the video model's graphs (the backbone, one ViT "
                                                        "pass for both heads; the video tracker decoders; the memory "
                                                        "encoder and memory attention), the tracker constants and "
                                                        "hf/video_config.json")
    p.add_argument("--hf-weights", action="store_true", help="also save each model as an HF checkpoint, "
                                                             "hf/<model>/ (config.json + model.safetensors)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch check of each graph")
    p.add_argument("--tokenizer", default=None, help="folder with tokenizer.json and tokenizer_config.json "
                                                       "(default: the bundled pack's)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    from .export import export_tiny_pack
    roles = [r.strip() for r in a.roles.split(",") if r.strip()] if a.roles else None
    export_tiny_pack(a.source, a.out, roles=roles, check=not a.no_check, tokenizer_dir=a.tokenizer, video=a.video,
                     hf_weights=a.hf_weights, progress=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
