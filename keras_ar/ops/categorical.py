"""Categorical distributions over `levels` values: log-likelihood and sampling.

Sampling is by inverse CDF from a uniform draw given by the caller, so that
two generation paths fed the same uniforms (cached and uncached) make the same
random choice at each step, and so that noise can be drawn once, up front,
outside the compiled loop.
"""

import keras
from keras import ops

from keras_ar.backend.slicing import torch_tensor
from keras_ar.ops.step_coder import active_coder


def categorical_log_prob(logits, x):
    """log p(x) under softmax(logits), elementwise.

    Args:
        logits: float tensor `(..., K)`.
        x: int tensor `(...)` with values in `[0, K)`.
    Returns:
        float32 tensor `(...)`.
    """
    logits = ops.cast(logits, "float32")
    log_p = ops.log_softmax(logits, axis=-1)
    if keras.backend.backend() == "torch":
        return _pick_torch(log_p, x)
    # XLA fuses the one-hot product into the reduction (on TensorFlow it
    # measured faster than a gather, whose gradient is a scatter).
    one_hot = ops.one_hot(ops.cast(x, "int32"), ops.shape(logits)[-1])
    return ops.sum(log_p * one_hot, axis=-1)


def _pick_torch(log_p, x):
    """`log_p[..., x]`, 0 where `x` is outside [0, K): the one-hot product's
    value to the last bit (it summed one nonzero term), as a gather. Eager
    PyTorch materializes the one-hot tensor, `K` times the size of `x` and
    built in int64 by Keras before the cast: for a 10 000-word vocabulary it
    cost more than the rest of a training step."""
    import torch

    x = torch.broadcast_to(torch_tensor(x, torch.int64), log_p.shape[:-1])
    inside = (x >= 0) & (x < log_p.shape[-1])
    picked = torch.gather(log_p, -1, torch.where(inside, x, 0)[..., None])[..., 0]
    return torch.where(inside, picked, 0.0)


def sample_categorical(logits, uniform, temperature=1.0):
    """Draws from softmax(logits / temperature) by inverse CDF.

    Args:
        logits: float tensor `(..., K)`.
        uniform: float tensor `(...)` of U[0, 1) draws, one per sample.
        temperature: scalar > 0; below 1 sharpens, above 1 flattens.
    Returns:
        int32 tensor `(...)`: the smallest k with CDF(k) > uniform; inside
        `keras_ar.ops.step_coder.coding` the coder's choice instead.
    """
    coder = active_coder()
    if coder is not None:
        return coder.categorical(logits)
    if keras.backend.backend() == "torch":
        return _sample_categorical_torch(logits, uniform, temperature)
    logits = ops.cast(logits, "float32") / ops.cast(temperature, "float32")
    probs = ops.softmax(logits, axis=-1)
    cdf = ops.cumsum(probs, axis=-1)
    below = ops.cast(cdf <= ops.expand_dims(ops.cast(uniform, "float32"), -1), "int32")
    # Counting the bins whose CDF is <= u gives the inverse CDF; the clip
    # guards against a CDF that sums to 1 - eps in float32.
    k = ops.shape(logits)[-1]
    return ops.minimum(ops.sum(below, axis=-1), k - 1)


def _sample_categorical_torch(logits, uniform, temperature):
    """`sample_categorical` in torch directly: the same operations in the
    same dtypes, without Keras' dispatch around each (a sizeable part of an
    eager sampling step)."""
    import torch

    logits = torch_tensor(logits, torch.float32) / torch_tensor(
        temperature, torch.float32
    )
    cdf = torch.cumsum(torch.softmax(logits, dim=-1), dim=-1)
    below = cdf <= torch_tensor(uniform, torch.float32)[..., None]
    count = below.to(torch.int32).sum(dim=-1, dtype=torch.int32)
    return torch.clamp(count, max=logits.shape[-1] - 1)
