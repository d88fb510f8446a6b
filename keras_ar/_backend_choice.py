"""Chooses a Keras backend that is installed, before Keras is imported.

Keras falls back to TensorFlow when `KERAS_BACKEND` is unset and its
`keras.json` names no backend (and writes "tensorflow" into a new
`keras.json`), so in an environment with only JAX or only PyTorch
`import keras` fails with `No module named 'tensorflow'`. `import keras_ar`
runs `choose_backend()` first: when `KERAS_BACKEND` is unset and the backend
Keras would use is not installed, it sets `KERAS_BACKEND` to the first
installed one of jax, torch, tensorflow. An explicit `KERAS_BACKEND`, a
working configured backend, or an already imported Keras is left alone.
"""

import importlib.util
import json
import os
import sys

#: Backend name -> the module it needs, in order of preference.
_MODULES = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _keras_dir():
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def configured_backend():
    """The backend Keras would pick: `KERAS_BACKEND`, else `keras.json`,
    else "tensorflow" (Keras's default)."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    path = os.path.join(_keras_dir(), "keras.json")
    try:
        with open(path) as f:
            backend = json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    return backend or "tensorflow"


def pick_backend(explicit, configured, installed):
    """The backend to set, or None to leave Keras's choice alone.

    Args:
        explicit: the value of `KERAS_BACKEND` (None or "" when unset).
        configured: the backend Keras would use without it.
        installed: callable, module name -> whether it is installed.
    """
    if explicit:
        return None
    module = _MODULES.get(configured)
    if module is None or installed(module):
        return None
    for backend, module in _MODULES.items():
        if installed(module):
            return backend
    return None


def choose_backend():
    """Sets `KERAS_BACKEND` to an installed backend if Keras's own choice is
    not installed; returns the backend set, or None if nothing was changed."""
    if "keras" in sys.modules:
        return None
    explicit = os.environ.get("KERAS_BACKEND")
    backend = pick_backend(explicit, configured_backend(), _installed)
    if backend is not None:
        os.environ["KERAS_BACKEND"] = backend
    return backend
