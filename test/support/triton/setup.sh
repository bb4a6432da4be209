#!/usr/bin/env bash
# Makes (or reuses) the virtual environment the Triton integration tests start tritonserver from.
# On failure it prints one line saying why, writes that line to the .unavailable file the tests quote, and exits 1.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${HOME}/.cache/sam3-flow/triton-venv"
unavailable="${venv}.unavailable"
mkdir -p "$(dirname "$venv")"

fail() {
  echo "$1" | tee "$unavailable" >&2
  exit 1
}

# the wheel is tagged manylinux_2_35: pip finds nothing for an older glibc
glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
[ -n "$glibc" ] || fail "no glibc found (the tritonserver wheel needs glibc 2.35 or newer)"
printf '2.35\n%s\n' "$glibc" | sort -V -C || fail "glibc ${glibc} is older than 2.35, which the tritonserver wheel needs"

# the venv is reused while it imports everything and was made from the same pins
if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt" ||
  ! "$venv/bin/python" -c "import pytriton, onnxruntime, numpy" 2>/dev/null; then
  # a Python the wheel ships a backend stub for (3.8 to 3.13), with venv, pip and the shared libpython the stub links
  usable='import os, sys, sysconfig as s, venv, ensurepip
sys.exit(not ((3, 8) <= sys.version_info[:2] <= (3, 13) and os.path.exists(os.path.join(s.get_config_var("LIBDIR"), s.get_config_var("INSTSONAME")))))'
  python=""
  for candidate in python3.11 python3.12 python3.10 python3.13 python3.9 python3.8 python3; do
    if "$candidate" -c "$usable" 2>/dev/null; then python="$candidate"; break; fi
  done
  [ -n "$python" ] || fail "no Python 3.8 to 3.13 with the venv module and a shared libpython"
  rm -rf "$venv"
  "$python" -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; fail "${python} -m venv failed"; }
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt" >"$venv.pip.log" 2>&1; then
    error="$(grep -m1 -E '^ERROR' "$venv.pip.log" || tail -n1 "$venv.pip.log")"
    rm -rf "$venv" "$venv.pip.log"
    fail "pip install of the PyTriton wheel failed (offline?): ${error}"
  fi
  rm -f "$venv.pip.log"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi

# tritonserver's backend folder (the python backend and the stub for this Python), and the paths the tests start it with
"$venv/bin/python" - "$venv" 2>/dev/null <<'PY' || fail "the PyTriton wheel in ${venv} has no tritonserver python backend"
import json, os, shutil, sys, sysconfig, pytriton
venv = sys.argv[1]
server = os.path.join(os.path.dirname(pytriton.__file__), "tritonserver")
backend = os.path.join(venv, "backends", "python")
os.makedirs(backend, exist_ok=True)

def place(source):
    # a running test server holds these files open: a new copy goes in beside it and is renamed over it
    target = os.path.join(backend, os.path.basename(source))
    shutil.copy2(source, target + ".new")
    os.replace(target + ".new", target)

for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
    place(os.path.join(server, "backends", "python", name))
place(os.path.join(server, "python_backend_stubs", "%d.%d" % sys.version_info[:2], "triton_python_backend_stub"))
# the stub must load the libpython of the Python that made the venv, not another of the same version
libs = [sysconfig.get_config_var("LIBDIR"), os.path.join(sysconfig.get_paths()["purelib"], "nvidia_pytriton.libs")]
paths = {"tritonserver": os.path.join(server, "bin", "tritonserver"), "backends": os.path.dirname(backend),
         "libraryPath": libs, "bin": os.path.join(venv, "bin")}
with open(os.path.join(venv, "triton.json"), "w") as f:
    json.dump(paths, f, indent=2)
PY
rm -f "$unavailable"
echo "Triton test environment ready: ${venv}"
