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
# pip byte-compiles every module at install (a third of the install
# time): kept, because where PYTHONDONTWRITEBYTECODE is set (as on the
# machines the suite runs on) Python would otherwise compile every module
# it imports from source in every process (the PyTorch run took 288 s
# instead of 184 s).
.venv/bin/python -m pip install -q -e ".[dev,recipes,text,onnx,compression,anomaly,forecast]" \
    "keras==3.15.*" "tensorflow==2.21.*" "tensorflow-text==2.21.*" \
    "jax==0.10.*" "torch==2.13.0"
echo "$want" > "$stamp"
