"""Loads `.keras` files under the backend of this process and scores data.

Usage: KERAS_BACKEND=... python tests/cross_backend_worker.py DIR
For every `NAME.keras` in DIR, reads `NAME.npz` (x, optional labels) and
writes `NAME.<backend>.npy` with the loaded model's log_prob.
"""

import glob
import os
import sys

import keras
import numpy as np

import keras_ar  # noqa: F401  (registers the classes for deserialization)


def main(folder):
    backend = keras.backend.backend()
    for path in sorted(glob.glob(os.path.join(folder, "*.keras"))):
        name = path[: -len(".keras")]
        data = np.load(name + ".npz")
        kwargs = {"labels": data["labels"]} if "labels" in data else {}
        model = keras.saving.load_model(path)
        np.save(f"{name}.{backend}.npy", model.log_prob(data["x"], **kwargs))


if __name__ == "__main__":
    main(sys.argv[1])
