"""keras_ar: autoregressive generative models for Keras 3.

Runs unchanged on the TensorFlow, JAX and PyTorch backends.
"""

from keras_ar import datasets, layers, masks, metrics, models, ops, samplers

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
