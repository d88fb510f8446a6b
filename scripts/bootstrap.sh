#!/usr/bin/env bash
# Creates ./.venv with keras_ar and all three Keras backends, once.
# Re-runs the install only when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.keras_ar-installed
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# tensorflow-cpu and the pinned CPU torch keep the install to ~4 GB.
.venv/bin/python -m pip install -q -e ".[dev,recipes]" \
    "tensorflow-cpu>=2.16" "jax>=0.4.30" "torch==2.13.0"
echo "$want" > "$stamp"
