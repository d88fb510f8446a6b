"""`scan`: `keras.ops.scan`, or a plain Python loop when running eagerly.

The PixelRNN layers scan over rows or diagonals. Inside a compiled function
(`fit`, `generate`, `jax.jit`, `tf.function`) that is `keras.ops.scan`: one
loop in the program, however many rows. Called eagerly (`model(x)`,
`log_prob`), JAX would compile that scan afresh on every call (its body is
a new closure each time), which costs seconds; the Python loop runs the
same operations one by one instead, with no compilation.

`unrolled_scans()` makes traced scans Python loops too (the loop unrolled in
the traced program), for exporters that cannot convert a loop: tf2onnx
turns a TensorFlow scan into an invalid ONNX graph.
"""

import contextlib

import keras
from keras import ops, tree

_UNROLL = [False]


@contextlib.contextmanager
def unrolled_scans():
    """Within it, `scan` unrolls into a Python loop even when traced."""
    previous = _UNROLL[0]
    _UNROLL[0] = True
    try:
        yield
    finally:
        _UNROLL[0] = previous


def _tracing(values):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return any(isinstance(v, jax.core.Tracer) for v in tree.flatten(values))
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    return True  # torch and others: keras' scan is a Python loop already


def scan(f, init, xs, reverse=False):
    """`keras.ops.scan(f, init, xs, reverse=reverse)`, eager-friendly.

    `f(carry, x) -> (carry, y)`; `xs` a tensor or a tuple of tensors
    scanned over their first axis. Returns `(carry, ys)` with `ys` stacked
    on a new first axis, in the order of `xs` (also when `reverse`).
    """
    if _tracing((init, xs)) and not _UNROLL[0]:
        return ops.scan(f, init, xs, reverse=reverse)
    flat = tree.flatten(xs)
    length = flat[0].shape[0]
    order = range(length - 1, -1, -1) if reverse else range(length)
    carry, ys = init, [None] * length
    for i in order:
        carry, ys[i] = f(carry, tree.pack_sequence_as(xs, [x[i] for x in flat]))
    return carry, tree.map_structure(lambda *y: ops.stack(y), *ys)
