import json
import os
import subprocess
import sys

import pytest

from sam3_export.cli import parse_args

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_parse_args():
    a = parse_args(["--from", "tiny-336", "--out", "x", "--roles", "textEncoder"])
    assert (a.source, a.out, a.roles, a.no_check) == ("tiny-336", "x", "textEncoder", False)
    with pytest.raises(SystemExit):
        parse_args(["--from", "nope", "--out", "x"])


def test_cli_exports_one_role(tmp_path):
    out = tmp_path / "pack"
    r = subprocess.run([sys.executable, "-m", "sam3_export", "--from", "tiny-336", "--out", str(out),
                        "--roles", "textEncoder"], cwd=HERE, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[1/1] textEncoder -> onnx/text_encoder.onnx" in r.stdout
    assert (out / "onnx" / "text_encoder.onnx").is_file()
    with open(out / "manifest.json") as f:
        assert list(json.load(f)["roles"]) == ["textEncoder"]
