"""`import keras_ar` in environments that lack backends: a `[jax]`- or
`[torch]`-only install has no TensorFlow, which Keras would pick by default.

Each subprocess case runs a fresh interpreter in which the missing packages
cannot be imported (`sys.modules[name] = None`: `import` raises
`ModuleNotFoundError` and `importlib.util.find_spec` answers None, as for a
package that is not installed), with `KERAS_BACKEND` unset and an empty
`KERAS_HOME` (so Keras's own default would be TensorFlow).
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from keras_ar._backend_choice import pick_backend

BACKEND = keras.backend.backend()

ROOT = Path(__file__).resolve().parents[1]

_CHECK = """
import sys

for name in MISSING:
    sys.modules[name] = None

import keras_ar
import keras

assert "tensorflow" not in sys.modules or sys.modules["tensorflow"] is None
print("backend", keras.backend.backend())
"""


@pytest.mark.parametrize(
    "missing, expected",
    [(["tensorflow"], "jax"), (["tensorflow", "jax", "jaxlib"], "torch")],
    ids=["jax-only", "torch-only"],
)
def test_import_without_tensorflow_picks_an_installed_backend(
    missing, expected, tmp_path
):
    if BACKEND != expected:
        # Independent of this run's backend (the subprocess picks its own):
        # each case runs once, in the run of the backend it ends up on.
        pytest.skip(f"runs in the {expected} run of the suite")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(
        KERAS_HOME=str(tmp_path / "keras_home"),
        PYTHONPATH=str(ROOT),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    result = subprocess.run(
        [sys.executable, "-c", f"MISSING = {missing!r}\n" + _CHECK],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"backend {expected}" in result.stdout


@pytest.mark.skipif(BACKEND != "jax", reason="backend-independent logic")
def test_pick_backend_leaves_working_choices_alone():
    def only(*names):
        return lambda module: module in names

    # Keras's default (TensorFlow) is missing: the first installed backend.
    assert pick_backend(None, "tensorflow", only("jax", "torch")) == "jax"
    assert pick_backend("", "tensorflow", only("torch")) == "torch"
    assert pick_backend(None, "jax", only("torch")) == "torch"
    # An explicit KERAS_BACKEND, an installed configured backend, an unknown
    # configured name (Keras reports it) or nothing installed: unchanged.
    assert pick_backend("tensorflow", "tensorflow", only("jax")) is None
    assert pick_backend(None, "tensorflow", only("tensorflow", "jax")) is None
    assert pick_backend(None, "torch", only("torch", "jax")) is None
    assert pick_backend(None, "numpy", only("jax")) is None
    assert pick_backend(None, "tensorflow", only()) is None
