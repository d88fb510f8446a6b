"""Writing into a cache tensor in place, where the backend allows it.

`keras.ops.slice_update` is functional: it returns a new tensor. Under XLA
(JAX, TensorFlow) the compiler turns it into an in-place update when the
data dependencies allow (see `keras_ar.ops.step_buffers`). Eager PyTorch
has no compiler to do that, and Keras' torch `slice_update` clones the
whole tensor on every call, so a generation step that writes one pixel
into a cache copies the cache. There, `write_in_place` writes into the
tensor itself: only for tensors a generation loop owns (its caches), never
for a caller's data or a weight.
"""

import keras
from keras import ops


def writes_in_place():
    """True where `write_in_place` mutates its argument (eager PyTorch)."""
    return keras.backend.backend() == "torch"


def write_in_place(buffer, start, value):
    """`buffer` with `value` written at `start`; mutates `buffer` on eager
    PyTorch (and returns it), else returns `ops.slice_update(...)`."""
    if not writes_in_place():
        return ops.slice_update(buffer, start, value)
    import torch

    region = buffer
    for axis, (index, size) in enumerate(zip(start, value.shape)):
        region = torch.narrow(region, axis, index, size)
    region.copy_(value)
    return buffer
