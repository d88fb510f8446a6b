"""Whether a tensor holds values now or is being traced into a graph.

Input checks use it to choose how to reject bad data: a concrete (eager)
batch is checked on the spot and raises a `ValueError`; a traced batch
(`tf.function`, `jax.jit`) has no values yet, so the check is compiled into
the graph instead (the loss becomes NaN).
"""

import keras
import numpy as np


def is_concrete(x):
    """True for a NumPy array or an eager tensor, False while tracing."""
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    if isinstance(x, keras.KerasTensor):
        return False
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly() and hasattr(x, "numpy")
    if backend == "torch":
        import torch

        return isinstance(x, torch.Tensor) and not torch.compiler.is_compiling()
    return True
