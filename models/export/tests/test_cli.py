import json
import os
import subprocess
import sys

import pytest

from fakehub import NOT_GRANTED, FakeHub
from sam3_export.cli import main, parse_args
from sam3_export.errors import ExportError

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "sam3_export"] + args, cwd=HERE, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_parse_args(tmp_path):
    a = parse_args(["--from", "tiny-336", "--out", "x", "--roles", "textEncoder, backbone", "--dtype", "int8"])
    assert (a.source, a.out, a.roles, a.dtype, a.seed, a.no_check) == ("tiny-336", "x", ["textEncoder", "backbone"],
                                                                        "int8", None, False)
    assert parse_args(["--from", "facebook/sam3", "--out", "x"]).dtype == "fp32"
    assert parse_args(["--from", "tiny-336", "--out", "x", "--roles", "trackerConstants"]).roles == ["trackerConstants"]
    (tmp_path / "file").write_text("")
    for bad in (["--out", "x"], ["--from", "tiny-336"], ["--from", "tiny-336", "--out", "x", "--dtype", "bf16"],
                ["--from", "tiny-336", "--out", "x", "--seed", "one"],
                ["--from", "tiny-336", "--out", "x", "--threads", "0"],
                ["--from", "tiny-336", "--out", "x", "--roles", "textEncoder,nope"],
                ["--from", "tiny-336", "--out", "x", "--roles", ","],
                ["--from", "tiny-336", "--out", "x", "--dtype", "fp16", "--hf-weights"],
                ["--from", "tiny-336", "--out", str(tmp_path / "file")]):
        with pytest.raises(ExportError) as e:
            parse_args(bad)
        assert e.value.code == "bad-arguments", bad


def test_a_user_error_is_one_line_and_exit_2(capsys):
    assert main(["--from", "tiny-336", "--out", "x", "--dtype", "bf16"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sam3-export: bad-arguments: ") and "Traceback" not in err
    assert main(["--from", "no-such-source", "--out", "x"]) == 2
    assert capsys.readouterr().err.startswith("sam3-export: bad-source: ")


def test_hub_error_end_to_end(tmp_path):
    """A gated repo the token has no access to: one line naming the problem, exit 2, the token nowhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "config.json").write_text('{"model_type": "sam3_video"}')
    with FakeHub(str(tmp_path / "served")) as hub:
        r = cli(["--from", "test/gated", "--out", str(tmp_path / "pack")],
                dict(env, HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"), HF_TOKEN=NOT_GRANTED,
                     HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1"))
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.startswith("sam3-export: hub-licence-not-accepted: ") and r.stderr.count("\n") == 1
    assert NOT_GRANTED not in r.stdout + r.stderr
    assert not (tmp_path / "pack").exists()


def test_cli_exports_an_fp16_pack(tmp_path):
    out = tmp_path / "pack"
    r = cli(["--from", "tiny-336", "--out", str(out), "--roles", "textEncoder", "--dtype", "fp16", "--no-check"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[1/1] textEncoder -> onnx/text_encoder.onnx (fp16" in r.stdout
    with open(out / "manifest.json") as f:
        m = json.load(f)
    assert m["dtype"] == "fp16" and [r for r, e in m["roles"].items() if e["file"].endswith(".onnx")] == ["textEncoder"]
    assert (out / "onnx" / "text_encoder.onnx").is_file()
    assert not [n for n in os.listdir(tmp_path) if n != "pack"]  # the float32 pack is gone
