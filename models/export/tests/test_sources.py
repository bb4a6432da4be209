import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch

from fakehub import BAD_TOKEN, COMMIT, GOOD_TOKEN, NOT_GRANTED, FakeHub
from sam3_export import configs
from sam3_export.errors import ExportError
from sam3_export.sources import BUNDLED_TOKENIZER, build_full_random, load_source

QUIET = dict(progress=lambda s: None)
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """The tiny-336 model saved as an HF checkpoint (config.json + model.safetensors), and its state dict."""
    video = configs.build_video(configs.PRESETS["tiny-336"])
    folder = tmp_path_factory.mktemp("ckpt") / "my-sam3"
    video.save_pretrained(folder)
    return str(folder), video.state_dict()


def same_weights(video, state) -> bool:
    mine = video.state_dict()
    return mine.keys() == state.keys() and all(torch.equal(mine[k], state[k]) for k in state)


def codes(fn, *args, **kw) -> str:
    with pytest.raises(ExportError) as e:
        fn(*args, **kw)
    return e.value.code


def test_tiny_presets_are_seeded():
    a = load_source("tiny-336", **QUIET)
    assert (a.name, a.description) == ("sam3-tiny-336", configs.PRESETS["tiny-336"].description)
    assert os.path.isfile(os.path.join(a.tokenizer_dir, "tokenizer.json"))
    assert same_weights(a.video, configs.build_video(configs.PRESETS["tiny-336"]).state_dict())
    b = load_source("tiny-336", seed=4, **QUIET)
    emb = "tracker_model.no_memory_embedding"
    assert not torch.equal(a.video.state_dict()[emb], b.video.state_dict()[emb])
    assert next(a.video.parameters()).dtype == torch.float32 and not a.video.training


def test_full_random_is_the_real_architecture():
    video = build_full_random(0, device="meta")
    n = sum(p.numel() for p in video.parameters())
    assert 850e6 < n < 870e6
    assert video.config.detector_config.vision_config.backbone_config.image_size == 1008
    assert all(p.dtype == torch.float32 for p in video.parameters())


@pytest.mark.skipif(not os.environ.get("SAM3_FULL_PACK"), reason="SAM3_FULL_PACK names no full-size pack")
def test_full_random_pack_opens_in_onnxruntime():
    """A pack exported with --from full-random (about half an hour and 19 GB, so SAM3_FULL_PACK names one made
    beforehand): every graph opens in onnxruntime, one at a time, with the tensors its manifest names."""
    import onnxruntime as ort
    from sam3_export.roles import ROLES
    pack = os.environ["SAM3_FULL_PACK"]
    with open(os.path.join(pack, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["imageSize"] == 1008 and set(ROLES) <= set(manifest["roles"])
    options = ort.SessionOptions()
    options.log_severity_level = 3
    for name in ROLES:
        entry = manifest["roles"][name]
        session = ort.InferenceSession(os.path.join(pack, entry["file"]), options, providers=["CPUExecutionProvider"])
        assert set(entry["inputs"].values()) <= {i.name for i in session.get_inputs()}, name
        assert set(entry["outputs"].values()) <= {o.name for o in session.get_outputs()}, name
        del session


def test_local_checkpoint(tiny_checkpoint, tmp_path):
    folder, state = tiny_checkpoint
    src = load_source(folder, **QUIET)
    assert same_weights(src.video, state) and not src.video.training
    assert (src.name, src.tokenizer_dir) == ("my-sam3", BUNDLED_TOKENIZER)
    assert "local" in src.description and folder not in src.description
    # a checkpoint with its own tokenizer gives it to the pack
    own = tmp_path / "own"
    shutil.copytree(folder, own)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(BUNDLED_TOKENIZER, f), own / f)
    assert load_source(str(own), **QUIET).tokenizer_dir == str(own)
    assert codes(load_source, folder, seed=1) == "bad-option"


def write_config(folder, config: dict, weights=True):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    if weights:
        open(os.path.join(folder, "model.safetensors"), "wb").close()
    return str(folder)


def test_refused_checkpoints(tiny_checkpoint, tmp_path):
    assert codes(load_source, write_config(tmp_path / "img", {"model_type": "sam3"})) == "checkpoint-image-only"
    for kind in ("sam3_tracker", "sam3_tracker_video"):
        assert codes(load_source, write_config(tmp_path / kind, {"model_type": kind})) == "checkpoint-tracker-only"
    assert codes(load_source, write_config(tmp_path / "clip", {"model_type": "clip"})) == "checkpoint-not-sam3"
    no_weights = write_config(tmp_path / "now", {"model_type": "sam3_video"}, weights=False)
    assert codes(load_source, no_weights) == "checkpoint-no-weights"
    (tmp_path / "empty").mkdir()
    assert codes(load_source, str(tmp_path / "empty")) == "checkpoint-invalid"
    bad = tmp_path / "badjson"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    assert codes(load_source, str(bad)) == "checkpoint-invalid"
    # a sharded checkpoint whose index names a shard that is not there
    sharded = write_config(tmp_path / "sharded", {"model_type": "sam3_video"})
    with open(os.path.join(sharded, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {"a": "model-00002-of-00002.safetensors"}}, f)
    assert codes(load_source, sharded) == "checkpoint-no-weights"
    # weights missing from the file: refused rather than exported with random values
    from safetensors.torch import load_file, save_file
    folder, _ = tiny_checkpoint
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    tensors = load_file(str(partial / "model.safetensors"))
    del tensors[next(k for k in tensors if k.startswith("detector_model.vision_encoder"))]
    save_file(tensors, str(partial / "model.safetensors"), metadata={"format": "pt"})
    assert codes(load_source, str(partial)) == "checkpoint-incomplete"
    assert codes(load_source, "no-such-thing") == "bad-source"


# huggingface_hub reads HF_ENDPOINT when imported: the hub cases run in a subprocess pointed at the fake hub, each
# case (repo id, HF_TOKEN) in turn; a checkpoint loaded is summed up by the sum of its weights.
HUB_CASES = """
import json, os, sys
from sam3_export.errors import ExportError
from sam3_export.sources import load_source
out = []
for repo, token in json.loads(sys.argv[1]):
    os.environ.pop("HF_TOKEN", None)
    if token:
        os.environ["HF_TOKEN"] = token
    try:
        src = load_source(repo, progress=lambda s: None)
        out.append({"name": src.name, "description": src.description, "files": sorted(os.listdir(src.tokenizer_dir)),
                    "sum": float(sum(t.double().sum() for t in src.video.state_dict().values()
                                     if t.is_floating_point()))})
    except ExportError as e:
        out.append({"code": e.code, "message": e.message})
print(json.dumps(out))
"""


def hub_env(tmp_path, endpoint: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
    return dict(env, HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1",
                HF_HUB_DISABLE_PROGRESS_BARS="1", PYTHONPATH=HERE)


def run_hub_cases(tmp_path, endpoint: str, cases: list) -> list:
    r = subprocess.run([sys.executable, "-c", HUB_CASES, json.dumps(cases)], env=hub_env(tmp_path, endpoint),
                       cwd=HERE, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture()
def served(tiny_checkpoint, tmp_path):
    """The files the fake hub serves: the tiny checkpoint, a tokenizer and a file a pack does not need."""
    files = tmp_path / "served"
    shutil.copytree(tiny_checkpoint[0], files)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(BUNDLED_TOKENIZER, f), files / f)
    (files / "sam3.pt").write_bytes(b"not needed")
    return str(files)


def test_hub(served, tiny_checkpoint, tmp_path):
    cases = [("test/tiny", None), ("test/gated", None), ("test/gated", NOT_GRANTED), ("test/gated", BAD_TOKEN),
             ("test/nothing", None), ("test/nothing", GOOD_TOKEN), ("test/gated", GOOD_TOKEN)]
    with FakeHub(served) as hub:
        got = run_hub_cases(tmp_path, hub.url, cases)
    total = float(sum(p.double().sum() for p in tiny_checkpoint[1].values() if p.is_floating_point()))
    tiny, gated = got[0], got[-1]
    assert tiny["name"] == "tiny" and "test/tiny" in tiny["description"] and COMMIT[:12] in tiny["description"]
    assert tiny["files"] == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    assert abs(tiny["sum"] - total) < 1e-6 * max(1.0, abs(total)) and gated["sum"] == tiny["sum"]
    assert [g.get("code") for g in got[1:-1]] == ["hub-token-missing", "hub-licence-not-accepted", "hub-bad-token",
                                                  "hub-not-found", "hub-not-found"]
    assert "HF_TOKEN" in got[1]["message"] and f"{hub.url}/test/gated" in got[1]["message"]
    assert not any(t in json.dumps(got) for t in (GOOD_TOKEN, NOT_GRANTED, BAD_TOKEN))
    # no token goes with an anonymous case, the token with the others
    assert {t for m, p, t in hub.requests if "/test/tiny/" in p} == {False}


def test_hub_unreachable(tmp_path):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [got] = run_hub_cases(tmp_path, f"http://127.0.0.1:{port}", [("facebook/sam3", None)])
    assert got["code"] == "hub-unreachable" and "HF_ENDPOINT" in got["message"]
