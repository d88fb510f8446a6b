"""`no_grad()`: a context without gradient bookkeeping, for inference loops
that run eagerly (e.g. a keras-hub sampler's loop on PyTorch)."""

import contextlib

import keras


def no_grad():
    """`torch.no_grad()` on the PyTorch backend; nothing on the others (JAX
    and TensorFlow record no gradients outside a tape or `grad`)."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()
