"""`keras.ops` for a sampling step's small tensors, without Keras' dispatch
on PyTorch.

An eager PyTorch sampling step calls a few hundred small operations, and
Keras' dispatch around each (conversion, dtype standardisation, checks for
symbolic tensors) costs more than the arithmetic on tensors of one pixel.
`step_ops(x)` is `keras.ops` itself unless `x` is a torch tensor; then it
is a namespace with the same functions, calling the torch function that
Keras' PyTorch backend calls for float32 tensors and Python-number bounds
(the only arguments the callers pass), so the values are the same to the
last bit.
"""

from keras import ops

from keras_ar.backend.constants import is_torch_tensor
from keras_ar.backend.slicing import (
    _torch_dtype,
    cast,
    concatenate,
    reshape,
    torch_tensor,
)


class _TorchStepOps:
    """The subset of `keras.ops` the step functions use, in torch."""

    cast = staticmethod(cast)
    reshape = staticmethod(reshape)
    concatenate = staticmethod(concatenate)
    convert_to_tensor = staticmethod(torch_tensor)

    @staticmethod
    def elu(x):
        import torch

        return torch.nn.functional.elu(x)

    @staticmethod
    def split(x, sections, axis):
        """`ops.split` into `sections` equal parts (Keras' `torch.split`)."""
        import torch

        return torch.split(x, x.shape[axis] // sections, dim=axis)

    @staticmethod
    def maximum(x, y):
        import torch

        return torch.maximum(x, torch.as_tensor(y, dtype=x.dtype))

    @staticmethod
    def clip(x, low, high):
        import torch

        return torch.clip(x, min=low, max=high)

    @staticmethod
    def one_hot(x, num_classes, dtype):
        import torch

        return cast(torch.nn.functional.one_hot(x.long(), num_classes), dtype)

    @staticmethod
    def sum(x, axis):
        return x.sum(dim=axis)

    @staticmethod
    def stack(tensors, axis):
        import torch

        return torch.stack(tensors, dim=axis)

    @staticmethod
    def zeros(shape, dtype):
        import torch

        return torch.zeros(shape, dtype=_torch_dtype(dtype))

    def __getattr__(self, name):
        if name not in _SAME_IN_TORCH:
            raise AttributeError(f"step_ops has no {name!r} on PyTorch")
        import torch

        return getattr(torch, name)


# Functions Keras' PyTorch backend maps straight to torch's of the same name.
_SAME_IN_TORCH = ("tanh", "log", "log1p", "exp", "round", "sigmoid", "ones_like")


_TORCH = _TorchStepOps()


def step_ops(x):
    """`keras.ops`, or its torch twin when `x` is a PyTorch tensor."""
    return _TORCH if is_torch_tensor(x) else ops
