#!/usr/bin/env bash
# The main job: the quick PixelCNN-on-Fashion-MNIST recipe (book ch. 5).
# Bootstraps .venv, makes sure Fashion-MNIST is on disk, trains, samples,
# and prints where samples.png is. Extra arguments go to the recipe.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
debian_dir=/usr/share/datasets/fashion-mnist
if [ -z "${KERAS_AR_DATA:-}" ] && [ ! -d "$debian_dir" ] \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # Debian ships the same IDX files Keras downloads; elsewhere the loader
    # falls back to the Keras download.
    apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
        || (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null) \
        || echo "dataset-fashion-mnist not installed; the loader will try to download"
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
exec .venv/bin/python recipes/pixelcnn_fashion_mnist.py --quick --out runs/pixelcnn_quick "$@"
