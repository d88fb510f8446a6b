"""NumPy constants (masks) as backend tensors, converted once on PyTorch.

The layers keep their masks as NumPy arrays (they are fixed by the
architecture, not trained, and must stay out of the saved weights). On JAX
and TensorFlow `ops.convert_to_tensor` of a NumPy array becomes a constant
of the compiled program, once. On PyTorch it runs at every call: a copy per
layer per sampling step, and a graph break under `torch.compile` (dynamo
cannot trace a NumPy array), so there the tensor is made once and kept on
the layer.
"""

import keras
from keras import ops


def constant(owner, name, array, dtype):
    """`ops.convert_to_tensor(array, dtype)`, cached on `owner` on PyTorch.

    Args:
        owner: the layer that holds the constant (the cache lives in its
            `__dict__`, out of Keras' attribute tracking).
        name: a key, unique within `owner`.
        array: the NumPy array; it must not change after the first call.
        dtype: the tensor's dtype.
    """
    if keras.backend.backend() != "torch":
        return ops.convert_to_tensor(array, dtype)
    cache = owner.__dict__.get("_keras_ar_constants")
    if cache is None:
        cache = owner.__dict__["_keras_ar_constants"] = {}
    key = (name, str(dtype))
    tensor = cache.get(key)
    if tensor is None:
        tensor = ops.convert_to_tensor(array, dtype)
        import torch

        # Keep only real tensors: one made while torch.compile traces is a
        # fake one, and Keras' symbolic calls (shape inference) make them on
        # the "meta" device. The sampling loop runs its first step eagerly.
        if not torch.compiler.is_compiling() and tensor.device.type != "meta":
            cache[key] = tensor
    return tensor
