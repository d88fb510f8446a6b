"""Weights saved under this backend load under another one and give the
same log_prob (within 1e-4), in its own process. The three backends' runs
form a cycle (TensorFlow -> PyTorch -> JAX -> TensorFlow), so every backend
is once the writer and once the reader at a third of the cost of all six
directions; each family goes one way round it (a third of the families
per run), so every family crosses backends once per suite."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.model_checks import redraw_weights
from tests.tiny_models import TINY_MODELS, build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READER = {"tensorflow": "torch", "torch": "jax", "jax": "tensorflow"}
WRITERS = tuple(READER)


def written_here(backend):
    """The families whose weights `backend` writes: every third one."""
    k = WRITERS.index(backend)
    return [name for i, name in enumerate(sorted(TINY_MODELS)) if i % 3 == k]


def test_every_family_crosses_once():
    crossing = [name for backend in WRITERS for name in written_here(backend)]
    assert sorted(crossing) == sorted(TINY_MODELS)


def _models():
    """(name, model, x, labels) for the tiny models this backend writes."""
    cases = []
    for name in written_here(keras.backend.backend()):
        model, x, labels = build(name)
        redraw_weights([model], scale=0.1)
        cases.append((name, model, x, labels))
    return cases


@pytest.mark.slow
def test_weights_load_under_another_backend(tmp_path):
    here = keras.backend.backend()
    expected = {}
    for name, model, x, labels in _models():
        model.save(str(tmp_path / f"{name}.keras"))
        arrays = {"x": x.astype("int32")}
        if labels is not None:
            arrays["labels"] = labels.astype("int32")
        np.savez(str(tmp_path / f"{name}.npz"), **arrays)
        kwargs = {} if labels is None else {"labels": labels}
        expected[name] = model.log_prob(x, **kwargs)
        # Moderate values, so that an absolute 1e-4 is a meaningful bound.
        assert np.all(np.abs(expected[name]) < 1e3), (name, expected[name])
    assert sorted(expected) == written_here(here) and len(expected) >= 3
    other = READER[here]
    env = dict(os.environ, KERAS_BACKEND=other, PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "cross_backend_worker.py"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for name, log_prob in expected.items():
        got = np.load(str(tmp_path / f"{name}.{other}.npy"))
        np.testing.assert_allclose(got, log_prob, atol=1e-4, err_msg=f"{name}: {here} -> {other}")
