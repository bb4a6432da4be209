# Where the exporter's virtual environment lives: outside the repository, beside the fetched model packs.
VENV="${SAM3_EXPORT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/sam3-flow/export-venv}"
