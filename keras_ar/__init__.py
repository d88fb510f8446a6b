"""keras_ar: autoregressive generative models for Keras 3.

Runs unchanged on the TensorFlow, JAX and PyTorch backends. Set the backend
with `KERAS_BACKEND` (jax, torch or tensorflow) before importing Keras; when
it is unset and Keras's default (TensorFlow, or the backend in `keras.json`)
is not installed, `import keras_ar` picks an installed one (jax, then torch).
"""

from keras_ar._backend_choice import choose_backend

choose_backend()

from keras_ar import (  # noqa: E402
    datasets,
    layers,
    masks,
    metrics,
    models,
    ops,
    samplers,
)

__version__ = "0.1.0"

__all__ = [
    "datasets",
    "layers",
    "masks",
    "metrics",
    "models",
    "ops",
    "samplers",
    "__version__",
]
