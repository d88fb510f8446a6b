#!/usr/bin/env bash
# Runs ruff and the whole test suite once per Keras backend, each backend in
# its own process (Keras fixes the backend at import). Fails if any fails.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh || exit 1
status=0
.venv/bin/ruff check . || status=1
for backend in ${KERAS_AR_BACKENDS:-tensorflow jax torch}; do
    echo "=== KERAS_BACKEND=$backend ==="
    KERAS_BACKEND=$backend .venv/bin/python -m pytest -q -n 2 "$@" tests || status=1
done
exit $status
