"""What a pack is exported from (`--from`): a tiny preset, the full-size model with random weights, a local
Hugging Face checkpoint of SAM 3, or one on the hub. Each gives one float32 `Sam3VideoModel` in eval mode."""
from __future__ import annotations

import glob
import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from . import configs
from .errors import ExportError

BUNDLED_MODELS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# SAM 3's tokenizer is CLIP's BPE: the bundled packs' files serve any checkpoint that has none of its own.
BUNDLED_TOKENIZER = os.path.join(BUNDLED_MODELS, configs.PRESETS["tiny-1008"].name)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

FULL_RANDOM = "full-random"
FULL_RANDOM_SEED = 0
FULL_RANDOM_DESCRIPTION = (
    "SAM 3 at its real size (1008 px, about 860M parameters) with RANDOM WEIGHTS: for tests and timing only; its "
    "masks are meaningless.")

# The files of a hub checkpoint a pack needs: config, weights (one file or shards + index), tokenizer, processor.
HUB_FILES = ["config.json", "*.safetensors", "*.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
             "special_tokens_map.json", "vocab.json", "merges.txt", "processor_config.json",
             "preprocessor_config.json", "video_preprocessor_config.json"]
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")

TRACKER_ONLY = ("sam3_tracker", "sam3_tracker_video")


@dataclass
class Source:
    video: Any  # a float32 transformers Sam3VideoModel in eval mode
    name: str  # the pack's name
    description: str
    tokenizer_dir: str  # holds tokenizer.json and tokenizer_config.json


def load_source(spec: str, seed: int | None = None, progress: Callable[[str], None] = print) -> Source:
    """The model `spec` names: tiny-336 | tiny-1008 | full-random | a checkpoint folder | a hub id owner/name."""
    random_weights = spec in configs.PRESETS or spec == FULL_RANDOM
    if seed is not None and not random_weights:
        raise ExportError("bad-option", "--seed applies to the random-weight sources (tiny-336, tiny-1008, "
                                        "full-random) only")
    t0 = time.time()
    if spec in configs.PRESETS:
        preset = configs.PRESETS[spec]
        video = configs.build_video(preset, configs.VIDEO_SEED if seed is None else seed)
        src = Source(video, preset.name, preset.description, os.path.join(BUNDLED_MODELS, preset.name))
    elif spec == FULL_RANDOM:
        src = Source(build_full_random(FULL_RANDOM_SEED if seed is None else seed), "sam3-full-random",
                     FULL_RANDOM_DESCRIPTION, BUNDLED_TOKENIZER)
    elif os.path.isdir(spec):
        label = safe_name(os.path.basename(os.path.abspath(spec)))
        src = load_checkpoint(spec, label, f"SAM 3 from a local Hugging Face checkpoint ({label})")
    elif HUB_ID.match(spec):
        folder = download_hub_checkpoint(spec, progress)
        commit = os.path.basename(os.path.normpath(folder))[:12]
        src = load_checkpoint(folder, safe_name(spec.split("/")[1]),
                              f"SAM 3 from the Hugging Face hub: {spec} (commit {commit})")
    else:
        raise ExportError("bad-source", "--from takes tiny-336, tiny-1008, full-random, a checkpoint folder that "
                                        "exists or a hub id owner/name (e.g. facebook/sam3)")
    n = sum(p.numel() for p in src.video.parameters())
    progress(f"{src.name}: model ready ({n / 1e6:.1f}M parameters, {time.time() - t0:.1f}s)")
    return src


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-.")[:100] or "sam3"


def build_full_random(seed: int, device: str = "cpu"):
    """HF's default `Sam3VideoConfig` (the real architecture) with weights from `seed`, built in float32 without
    autograd so that only the weights take memory (about 3.4 GB); on device "meta", without weights."""
    from transformers import Sam3VideoConfig, Sam3VideoModel
    from . import roi_align
    roi_align.install()
    torch.manual_seed(seed)
    with torch.no_grad(), torch.device(device):
        video = Sam3VideoModel(Sam3VideoConfig()).to(torch.float32).eval()
    configs.seed_learned_embeddings(video, seed)
    return video


def checkpoint_kind(folder: str) -> None:
    """Refuse, by its config.json and weight files, a folder that is not a SAM 3 video checkpoint."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise ExportError("checkpoint-invalid", "the folder has no config.json: not a Hugging Face checkpoint")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (ValueError, OSError):
        raise ExportError("checkpoint-invalid", "the checkpoint's config.json is not readable JSON") from None
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind == "sam3":
        raise ExportError("checkpoint-image-only",
                          "an image-only SAM 3 checkpoint (Sam3Config): a pack needs the whole model, detector and "
                          "video tracker (model_type sam3_video, as facebook/sam3)")
    if kind in TRACKER_ONLY:
        raise ExportError("checkpoint-tracker-only",
                          "a tracker-only SAM 3 checkpoint: a pack needs the whole model, detector and video tracker "
                          "(model_type sam3_video, as facebook/sam3)")
    if kind != "sam3_video":
        raise ExportError("checkpoint-not-sam3", "config.json is not a SAM 3 model's (model_type sam3_video, as "
                                                 "facebook/sam3)")
    if not glob.glob(os.path.join(glob.escape(folder), "*.safetensors")):
        raise ExportError("checkpoint-no-weights", "the checkpoint has no *.safetensors weights beside config.json")
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as f:
                shards = set(json.load(f)["weight_map"].values())
        except (ValueError, OSError, KeyError, TypeError, AttributeError):
            raise ExportError("checkpoint-invalid", "model.safetensors.index.json is not a readable index") from None
        if not all(isinstance(s, str) and os.path.isfile(os.path.join(folder, os.path.basename(s))) for s in shards):
            raise ExportError("checkpoint-no-weights", "a weight shard that model.safetensors.index.json names is "
                                                       "missing")


def load_checkpoint(folder: str, name: str, description: str) -> Source:
    """A SAM 3 checkpoint folder (config.json + *.safetensors, as facebook/sam3) as a float32 Sam3VideoModel; its
    tokenizer if it has one, else the bundled CLIP BPE."""
    checkpoint_kind(folder)
    from transformers import Sam3VideoModel
    from . import roi_align
    roi_align.install()
    try:
        video, info = Sam3VideoModel.from_pretrained(folder, dtype=torch.float32, output_loading_info=True)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise ExportError("checkpoint-invalid", f"the checkpoint does not load as a SAM 3 model "
                                                f"({type(e).__name__})") from None
    if info.get("missing_keys") or info.get("mismatched_keys"):
        n = len(info.get("missing_keys") or []) + len(info.get("mismatched_keys") or [])
        raise ExportError("checkpoint-incomplete", f"the checkpoint lacks {n} of the model's weights or has them at "
                                                   "other shapes: a pack from it would hold random weights")
    has_tokenizer = all(os.path.isfile(os.path.join(folder, f)) for f in TOKENIZER_FILES)
    return Source(video.to(torch.float32).eval(), name, description, folder if has_tokenizer else BUNDLED_TOKENIZER)


def load_pack_model(pack_dir: str):
    """A pack's HF checkpoint (hf/) as a float32 Sam3VideoModel in eval mode."""
    return load_checkpoint(os.path.join(pack_dir, "hf"), "pack", "").video


def download_hub_checkpoint(repo_id: str, progress: Callable[[str], None]) -> str:
    """snapshot_download of the files a pack needs (HUB_FILES) into the Hugging Face cache, with HF_TOKEN (or the
    token of `hf auth login`); the hub's refusals as ExportErrors that never show the token."""
    import httpx
    from huggingface_hub import constants, get_token, snapshot_download
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled,
                                        RepositoryNotFoundError, RevisionNotFoundError)
    token = get_token()
    page = f"{constants.ENDPOINT}/{repo_id}"
    progress(f"{repo_id}: downloading config, weights and tokenizer from the Hugging Face hub"
             + ("" if token else " (no HF_TOKEN set)"))
    t0 = time.time()
    try:
        folder = snapshot_download(repo_id, allow_patterns=HUB_FILES, token=token or False)
    except GatedRepoError:
        if token:
            raise ExportError("hub-licence-not-accepted",
                              f"{repo_id} is gated and this token has not been granted access: accept the licence "
                              f"on {page} with the account the token belongs to, and wait for the approval") from None
        raise ExportError("hub-token-missing",
                          f"{repo_id} is gated: accept its licence on {page}, then set HF_TOKEN to a read token of "
                          f"that account ({constants.ENDPOINT}/settings/tokens)") from None
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise ExportError("hub-not-found", f"no model {repo_id} on the Hugging Face hub"
                          + ("" if token else " (if it is private, set HF_TOKEN)")) from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        if status == 401 and token:
            raise ExportError("hub-bad-token", "the hub refused HF_TOKEN (401: invalid or expired): make a new read "
                                               f"token on {constants.ENDPOINT}/settings/tokens") from None
        raise ExportError("hub-unreachable", f"the Hugging Face hub answered HTTP {status} for {repo_id}: try again "
                                             "later") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, httpx.TransportError):
        raise ExportError("hub-unreachable", "the Hugging Face hub cannot be reached (offline, HF_HUB_OFFLINE set, "
                                             "or a network or proxy failure); set HF_ENDPOINT to use a mirror") from None
    size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(glob.escape(folder), "*")) if os.path.isfile(p))
    progress(f"{repo_id}: {size / 1e9:.2f} GB in the Hugging Face cache ({time.time() - t0:.1f}s)")
    return folder
