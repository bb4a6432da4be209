"""Command line: python -m sam3_export --from SPEC --out DIR [--seed N] [--dtype fp32|fp16|int8] [--roles a,b]
[--no-check] [--hf-weights] [--threads N]

Progress goes to stdout, one line per graph. A user error is one line on stderr, `sam3-export: <code>: <message>`,
exit 2; anything unexpected exits 1.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
import traceback
from typing import Callable

from .errors import ExportError

DTYPES = ("fp32", "fp16", "int8")
# What a failed read or write means to the user, without the path.
FILE_FAILURES = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                  errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                  errno.EPERM: "the operation is not permitted"}


class UserErrorParser(argparse.ArgumentParser):
    """argparse whose errors are ExportError("bad-arguments"): one line on stderr, exit 2."""

    def error(self, message):
        raise ExportError("bad-arguments", f"{message} (see --help)")


def parse_args(argv=None):
    p = UserErrorParser(prog="python -m sam3_export", description="Export SAM 3 to a complete ONNX model pack.")
    p.add_argument("--from", dest="source", required=True, metavar="SPEC",
                   help="tiny-336 | tiny-1008 (the bundled tiny random-weight packs), full-random (the real "
                        "architecture with random weights, for tests and timing), a Hugging Face hub id such as "
                        "facebook/sam3 (HF_TOKEN in the environment for a gated one), or a local checkpoint folder "
                        "(config.json + *.safetensors)")
    p.add_argument("--out", required=True, help="output folder of the pack (made if missing)")
    p.add_argument("--seed", type=int, default=None, help="seed of a random-weight source (default: the preset's; "
                                                          "full-random: 0)")
    p.add_argument("--dtype", choices=DTYPES, default="fp32", help="fp32 (default), fp16 (every float tensor "
                                                                   "float16) or int8 (8-bit MatMul / Gemm weights)")
    p.add_argument("--roles", default=None, help="comma-separated manifest roles to export (default: all)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch check of each graph")
    p.add_argument("--hf-weights", action="store_true", help="also save the model as an HF checkpoint, "
                                                             "hf/model.safetensors (fp32 packs only)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    a = p.parse_args(argv)
    if a.threads is not None and a.threads < 1:
        raise ExportError("bad-arguments", "--threads takes a whole number of at least 1")
    if a.hf_weights and a.dtype != "fp32":
        raise ExportError("bad-arguments", "--hf-weights goes with --dtype fp32: the HF weights are the float32 "
                                           "model's")
    a.roles = [r.strip() for r in a.roles.split(",") if r.strip()] if a.roles else None
    if a.roles is not None:
        from .roles import ROLES, TRACKER_CONSTANTS_ROLE
        known = list(ROLES) + [TRACKER_CONSTANTS_ROLE]
        unknown = [r for r in a.roles if r not in known]
        if unknown or not a.roles:
            raise ExportError("bad-arguments", f"--roles: unknown role(s) {', '.join(unknown[:5])}; the roles are "
                                               f"{', '.join(known)}" if unknown else "--roles names no role")
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        raise ExportError("bad-arguments", "--out names a file, not a folder")
    return a


def run(a, progress=lambda s: print(s, flush=True)) -> None:
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    from .sources import load_source
    src = load_source(a.source, a.seed, progress)
    from .export import export_pack
    out = os.path.abspath(a.out)
    options = dict(name=src.name, description=src.description, tokenizer_dir=src.tokenizer_dir, roles=a.roles,
                   check=not a.no_check, hf_weights=a.hf_weights, progress=progress)
    if a.dtype == "fp32":
        export_pack(src.video, out, **options)
        return
    from .variants import write_variant
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    # the float32 pack beside the output (the same disk), removed once the variant is written
    with tempfile.TemporaryDirectory(dir=parent, prefix=".sam3-export-fp32-") as fp32:
        export_pack(src.video, fp32, **options)
        src.video = None  # the model's memory is free for the conversion
        progress(f"{src.name}: writing the {a.dtype} pack")
        write_variant(fp32, out, a.dtype, progress)
    progress(f"{src.name}: {a.dtype} pack -> {out}")


def scrub(text: str) -> str:
    """Text without the token of the environment, whatever printed it."""
    token = os.environ.get("HF_TOKEN")
    return text.replace(token, "<HF_TOKEN>") if token else text


def main(argv=None) -> int:
    return guarded(lambda: run(parse_args(argv)))


def guarded(command: Callable[[], None]) -> int:
    """Run a command line's work: its exit status, a user error as one line on stderr (exit 2), anything
    unexpected with its traceback (exit 1)."""
    try:
        command()
        return 0
    except ExportError as e:
        print(scrub(f"sam3-export: {e.code}: {' '.join(e.message.split())}"), file=sys.stderr)
        return 2
    except MemoryError:
        print("sam3-export: out-of-memory: not enough memory for this export (the full-size model needs about "
              "20 GB)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sam3-export: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        reason = FILE_FAILURES.get(e.errno) if isinstance(e, OSError) else None
        if reason:
            print(f"sam3-export: file-failed: a file could not be read or written: {reason}", file=sys.stderr)
            return 2
        # unexpected: its traceback (the token scrubbed) for a bug report
        print(scrub(traceback.format_exc()), file=sys.stderr, end="")
        print("sam3-export: internal: an unexpected failure (the traceback above)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
