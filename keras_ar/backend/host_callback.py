"""A host (NumPy) function called from inside a generation step.

`host_call(fn, value, shape)` returns `fn(np.asarray(value))` as an int32
tensor of `shape`, from eager code and from inside a compiled loop alike:

- JAX: `jax.experimental.io_callback(..., ordered=True)`: the calls run in
  program order, once per step, also inside `lax` loops and conds.
- TensorFlow: `tf.numpy_function` (stateful). It runs in a graph
  `tf.function`, not under XLA: a loop that calls it is compiled with
  `jit_compile=False`.
- PyTorch (eager loop) and any other backend: a plain call.

`keras_ar.compression` uses it to let the entropy coder choose each step's
value from that step's distribution.
"""

import keras
import numpy as np
from keras import ops


def host_call(fn, value, shape):
    """`fn(value as float32 NumPy) -> int array of shape` inside a step."""
    backend = keras.backend.backend()
    shape = tuple(shape)

    def call(array):
        result = np.asarray(fn(np.asarray(array, "float32")), "int32")
        return result.reshape(shape)

    if backend == "jax":
        import jax
        from jax.experimental import io_callback

        return io_callback(
            call, jax.ShapeDtypeStruct(shape, np.int32), value, ordered=True
        )
    if backend == "tensorflow":
        import tensorflow as tf

        result = tf.numpy_function(call, [value], tf.int32, stateful=True)
        return tf.ensure_shape(result, shape)
    if backend == "torch":
        import torch

        array = value.detach().to("cpu", torch.float32).numpy()
        return torch.as_tensor(call(array), device=value.device)
    return ops.convert_to_tensor(call(ops.convert_to_numpy(value)), "int32")


def host_calls_compile():
    """Whether a loop that calls `host_call` may be compiled with XLA on
    TensorFlow (it may not: `tf.numpy_function` has no XLA kernel)."""
    return keras.backend.backend() != "tensorflow"
