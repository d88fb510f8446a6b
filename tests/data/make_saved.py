"""Writes the committed `.keras` files that tests/test_saved_files.py loads.

One tiny model per family (tests/tiny_models.py), fixed seeds, weights
redrawn at a moderate scale so that the distribution is not near-uniform,
saved as `tests/data/saved/<family>.keras`; the inputs and the log_prob
each model gave when it was saved go to `tests/data/saved/expected.json`.

Run it only to add a family (the point of the files is that they were
written by an earlier version of the library):

    KERAS_BACKEND=jax PYTHONPATH=. python tests/data/make_saved.py [family ...]
"""

import json
import os
import sys

import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tests.model_checks import redraw_weights  # noqa: E402
from tests.tiny_models import TINY_MODELS, build  # noqa: E402

SAVED = os.path.join(HERE, "saved")
EXPECTED = os.path.join(SAVED, "expected.json")


def main(names):
    os.makedirs(SAVED, exist_ok=True)
    expected = {}
    if os.path.exists(EXPECTED):
        with open(EXPECTED) as f:
            expected = json.load(f)
    for name in names or list(TINY_MODELS):
        keras.utils.set_random_seed(0)
        model, x, labels = build(name, seed=0)
        redraw_weights([model], scale=0.1, seed=0)
        x = x[:4].astype("int32")
        labels = None if labels is None else labels[:4].astype("int32")
        kwargs = {} if labels is None else {"labels": labels}
        log_prob = model.log_prob(x, **kwargs)
        model.save(os.path.join(SAVED, f"{name}.keras"))
        expected[name] = {
            "x": x.tolist(),
            "labels": None if labels is None else labels.tolist(),
            "log_prob": [float(v) for v in log_prob],
            "backend": keras.backend.backend(),
            "keras": keras.__version__,
        }
        print(name, np.round(log_prob, 4))
    with open(EXPECTED, "w") as f:
        json.dump(dict(sorted(expected.items())), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
