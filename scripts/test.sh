#!/usr/bin/env bash
# Runs ruff and the whole test suite once per Keras backend, each backend in
# its own process (Keras fixes the backend at import). Fails if any fails.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh || exit 1
status=0
# Two pytest workers on two cores: one thread each, or the backends'
# thread pools fight over the cores (torch slows down tenfold).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
export TF_CPP_MIN_LOG_LEVEL=2
# Test speed only: the tiny models run for milliseconds, and XLA spends
# most of each test compiling them. JAX's switch sets XLA's backend
# optimization level to 0 and skips LLVM's expensive passes (its compile
# options override XLA_FLAGS); TensorFlow's XLA reads the same two from
# XLA_FLAGS. The JAX run was 35% shorter (PixelSNAIL and TransformerLM
# files: 131 s -> 86 s on 2 cores). Nothing tested depends on how well
# XLA optimizes; the recipes and benchmarks never set them.
export JAX_DISABLE_MOST_OPTIMIZATIONS=1
XLA_FLAGS="$XLA_FLAGS --xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
# JAX's persistent compilation cache, empty at the start of each run: the
# two workers (and the tests' child processes) compile many of the same
# programs (the tiny models' train, score and sampling steps, a new model
# instance of the same shape after save/load); a compile one process made
# is then read back by the others (JAX run about 9% shorter).
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
export JAX_COMPILATION_CACHE_DIR="$cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
export JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
.venv/bin/ruff check . || status=1
for backend in ${KERAS_AR_BACKENDS:-tensorflow jax torch}; do
    echo "=== KERAS_BACKEND=$backend ==="
    # The docstrings' runnable examples run too (--doctest-modules keras_ar).
    KERAS_BACKEND=$backend .venv/bin/python -m pytest -q -n 2 --dist worksteal --doctest-modules "$@" tests keras_ar || status=1
done
exit $status
