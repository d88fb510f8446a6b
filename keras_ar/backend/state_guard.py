"""Keeps a model usable after a Keras workflow fails on its first batch.

On JAX, Keras' `fit`, `evaluate` and `predict` take the values out of the
model's variables while they run (a memory saving: the compiled step carries
them as its state) and put them back after the first step. An exception
raised while the first step is traced, such as keras_ar's check of a bad
batch, leaves them empty, and the next call fails with an unrelated
`TypeError`. `keep_variables_on_error` puts them back. On TensorFlow, a
failed first call leaves a compiled function that may no longer create
the optimizer's variables; the guard drops it so that the next call traces
a new one.
"""

import contextlib

import keras


@contextlib.contextmanager
def keep_variables_on_error(model):
    """Context manager: on an exception, refill the variables emptied by a
    JAX workflow, or drop TensorFlow's compiled functions (a no-op on
    PyTorch, whose steps run eagerly)."""
    if keras.backend.backend() == "tensorflow":
        names = ("train_function", "test_function", "predict_function")
        fresh = [name for name in names if getattr(model, name, None) is None]
        try:
            yield
        except BaseException:
            # A tf.function whose first call failed counts as called: the
            # next fit would reuse it, and its first real step, which makes
            # the optimizer's slots, would fail with "Creating variables on
            # a non-first call". The functions this call made are dropped
            # (one that had already run is kept: it made its variables).
            for name in fresh:
                setattr(model, name, None)
            raise
        return
    if keras.backend.backend() != "jax":
        yield
        return
    saved = [(v, v._value) for v in model.variables]
    try:
        yield
    except BaseException:
        import jax.numpy as jnp

        for variable, value in saved:
            if variable._value is None:
                variable._value = value
        # Optimizer slots and metric accumulators created inside the failed
        # call never took a step: their initial value is zero.
        others = list(getattr(model, "metrics_variables", []))
        if getattr(model, "optimizer", None) is not None:
            others += list(model.optimizer.variables)
        for variable in others:
            if variable._value is None:
                variable._value = jnp.zeros(variable.shape, variable.dtype)
        raise
