#!/usr/bin/env bash
# Makes models/export/.venv with the pinned export tools (npm run export:setup).
# PYTHON=python3.11 picks the interpreter (3.10 or newer); FORCE=1 rebuilds the environment from scratch.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ "${FORCE:-0}" = "1" ]; then rm -rf .venv; fi
if [ ! -x .venv/bin/python ]; then
  echo "creating models/export/.venv with $($PY --version 2>&1)"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
.venv/bin/python - <<'PY'
import torch, transformers, onnx, onnxruntime, onnxscript, safetensors, numpy
from transformers import Sam3Model, Sam3TrackerModel, Sam3TrackerVideoModel, Sam3VideoModel  # noqa: F401
assert not torch.version.cuda, f"a CUDA build of torch was installed ({torch.__version__}); the export needs the CPU build"
print("export tools ready: torch", torch.__version__, "| transformers", transformers.__version__, "| onnx", onnx.__version__,
      "| onnxscript", onnxscript.__version__, "| onnxruntime", onnxruntime.__version__, "| safetensors", safetensors.__version__,
      "| numpy", numpy.__version__)
PY
