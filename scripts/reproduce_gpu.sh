#!/usr/bin/env bash
# The four chapter-5 recipes at the book's settings on one GPU, JAX backend,
# sized to finish within 10 minutes on one H100; every figure (test NLL or
# perplexity, time per epoch, samples) goes into a marked section of
# docs/results.md (rewritten on each run) and into the run folders.
#
#   scripts/reproduce_gpu.sh --wheels .whl --data /path/to/fashion-mnist \
#       [--epicurious full_format_recipes.json] [--out runs/gpu]
#   scripts/reproduce_gpu.sh --data DIR --epochs 1 --allow-cpu   # CPU check:
#       results into OUT/results.md, docs/results.md untouched
#   scripts/reproduce_gpu.sh --backend torch ...                  # PyTorch
#   scripts/reproduce_gpu.sh --data DIR --dry-run                # print only
#
# The machine needs Python with JAX (CUDA build); keras and the other
# pure-Python packages may be missing: --wheels installs a folder of wheels
# (pip install --no-index --no-deps --target OUT/site), skipping any package
# this Python already has. $PYTHON picks the interpreter (default: python3).
# The recipe list (epochs, time budgets) is RECIPES in scripts/reproduce_gpu.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/reproduce_gpu.py "$@"
