#!/usr/bin/env bash
# Makes the exporter's virtual environment (venv-path.sh says where) with the pinned tools (npm run export:setup).
# PYTHON=python3.11 picks the interpreter (3.10 or newer); FORCE=1 rebuilds the environment from scratch.
set -euo pipefail
cd "$(dirname "$0")"
source ./venv-path.sh
PY="${PYTHON:-python3}"
if [ "${FORCE:-0}" = "1" ]; then rm -rf "$VENV"; fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV with $($PY --version 2>&1)"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r requirements.txt
"$VENV/bin/python" - <<'PY'
import torch, transformers, onnx, onnxruntime, onnxscript, safetensors, numpy
from transformers import Sam3Model, Sam3TrackerModel, Sam3TrackerVideoModel, Sam3VideoModel  # noqa: F401
assert not torch.version.cuda, f"a CUDA build of torch was installed ({torch.__version__}); the export needs the CPU build"
print("export tools ready: torch", torch.__version__, "| transformers", transformers.__version__, "| onnx", onnx.__version__,
      "| onnxscript", onnxscript.__version__, "| onnxruntime", onnxruntime.__version__, "| safetensors", safetensors.__version__,
      "| numpy", numpy.__version__)
PY
