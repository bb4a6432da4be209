#!/usr/bin/env bash
# Runs the exporter's Python (the environment setup.sh made) with the given arguments.
source "$(dirname "$0")/venv-path.sh"
exec "$VENV/bin/python" "$@"
