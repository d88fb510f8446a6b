"""`.keras` files written by an earlier version of the library still load.

tests/data/saved/ holds one tiny model per family, written by
tests/data/make_saved.py (on JAX) together with the log_prob each model gave
then; under PyTorch the loaded model gives the same values (within 1e-4)
and the same config as a model built today from tests/tiny_models.py.
(Reading them is Keras' deserialization, the same on every backend; the
weights of every family cross between the three backends in
test_cross_backend.py.)
"""

import json
import os

import keras
import numpy as np
import pytest

import keras_ar.models  # noqa: F401  (registers the classes the files name)
from tests.helpers import only_on
from tests.tiny_models import TINY_MODELS, build

SAVED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "saved")

with open(os.path.join(SAVED, "expected.json")) as _f:
    EXPECTED = json.load(_f)


def test_every_family_has_a_saved_file():
    assert sorted(EXPECTED) == sorted(TINY_MODELS)
    for name in EXPECTED:
        assert os.path.exists(os.path.join(SAVED, f"{name}.keras")), name


@only_on(
    "torch",
    "Keras' deserialization, the same on every backend: checked on PyTorch "
    "(test time); test_cross_backend.py loads every family's weights across backends",
)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_saved_file_loads_with_recorded_log_prob(name):
    record = EXPECTED[name]
    loaded = keras.saving.load_model(os.path.join(SAVED, f"{name}.keras"))
    fresh, _, _ = build(name)
    assert type(loaded) is type(fresh)
    # Same arguments as a model built today (but the automatic name, and
    # MADE's mask seed, drawn when none is given).
    config, today = loaded.get_config(), fresh.get_config()
    assert sorted(config) == sorted(today)
    for key in ("name", "seed"):
        config.pop(key, None), today.pop(key, None)
    assert config == today
    x = np.asarray(record["x"], "int32")
    kwargs = (
        {}
        if record["labels"] is None
        else {"labels": np.asarray(record["labels"], "int32")}
    )
    np.testing.assert_allclose(
        loaded.log_prob(x, **kwargs), record["log_prob"], rtol=0, atol=1e-4
    )
