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
# The full tensorflow wheel (keras-hub's tensorflow-text needs it, not
# tensorflow-cpu); the pinned CPU torch keeps torch off its CUDA builds.
# Versions are the ones the suite is run with; newer majors may work.
# --no-compile: Python writes the bytecode of the modules it imports on
# first use, instead of pip compiling every file of every wheel up front
# (a third of the install time).
.venv/bin/python -m pip install -q --no-compile -e ".[dev,recipes,text,onnx,compression,anomaly,forecast]" \
    "keras==3.15.*" "tensorflow==2.21.*" "tensorflow-text==2.21.*" \
    "jax==0.10.*" "torch==2.13.0"
echo "$want" > "$stamp"
