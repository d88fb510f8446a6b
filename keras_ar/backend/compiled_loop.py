"""Compiles a generation loop for the backend in use.

This is keras_ar's one backend-specific module: everything else uses
`keras.ops` only. A generation loop is `fori_loop(start, stop, step, state)`
where `step(i, state, noise_i, temperature)` calls the model's layers.

- JAX: one `jax.jit` program over a `lax` loop. The model variables are passed
  as arguments (through a `StatelessScope`) rather than closed over, so that
  the weights are not baked into the program as constants and training the
  model afterwards does not leave a stale compiled sampler.
- TensorFlow: one `tf.function(jit_compile=True)` (an XLA while loop),
  with `reduce_retracing` so that new batch sizes or lengths trace once more
  with relaxed shapes instead of once per call.
- PyTorch: a Python loop under `torch.no_grad()` that updates the loop
  state in place (`keras_ar.backend.slicing`). By default each step runs
  eagerly. With the environment variable `KERAS_AR_TORCH_COMPILE=1` the step
  is compiled with `torch.compile(dynamic=False)` (the step index is a
  tensor, so one compilation serves every step of a shape); this is
  experimental: on CPU the first call compiles for tens of seconds, and the
  Keras layers still cause graph breaks, so eager is the default.
"""

import os

import keras
from keras import ops


def compile_loop(model, step_fn, jit_compile=True):
    """Returns `run(state, noise, start, stop, temperature) -> state`.

    Args:
        model: the Keras model whose variables `step_fn` reads.
        step_fn: `step_fn(i, state, noise_i, temperature) -> state`, where
            `state` is a dict of tensors whose shapes and dtypes do not change
            from step to step, and `noise_i = noise[i]`.
        jit_compile: compile with XLA on TensorFlow (JAX always compiles).
    """

    def loop(state, noise, start, stop, temperature):
        def body(i, s):
            return step_fn(i, s, noise[i], temperature)

        return ops.fori_loop(start, stop, body, state)

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def stateless_loop(variables, state, noise, start, stop, temperature):
            mapping = list(zip(model.variables, variables))
            with keras.StatelessScope(state_mapping=mapping):
                return loop(state, noise, start, stop, temperature)

        jitted = jax.jit(stateless_loop)

        def run(state, noise, start, stop, temperature):
            variables = [v.value for v in model.variables]
            return jitted(variables, state, noise, start, stop, temperature)

        return run
    if backend == "tensorflow":
        import tensorflow as tf

        # No autograph: the steps branch and loop with keras.ops only, and
        # autograph's conversion cache, shared by a whole process, was seen
        # to call one converted method in place of another after many models
        # (a TransformerLM step calling its `_init_cache`).
        compiled = tf.function(
            loop, jit_compile=jit_compile, reduce_retracing=True, autograph=False
        )

        def run(state, noise, start, stop, temperature):
            return compiled(
                state,
                noise,
                tf.constant(start, "int32"),
                tf.constant(stop, "int32"),
                tf.constant(temperature, "float32"),
            )

        return run
    if backend == "torch":
        return _torch_loop(step_fn, torch_compile_enabled())
    # Any other backend (e.g. numpy): the plain loop.
    return loop


def torch_compile_enabled():
    """Whether the PyTorch sampling step is compiled (KERAS_AR_TORCH_COMPILE)."""
    return os.environ.get("KERAS_AR_TORCH_COMPILE", "0").lower() in ("1", "true")


def _torch_loop(step_fn, use_compile):
    import torch

    compiled = torch.compile(step_fn, dynamic=False) if use_compile else None

    def run(state, noise, start, stop, temperature):
        with torch.no_grad():
            # The steps update the state in place (keras_ar.backend.slicing):
            # copy it once, so that no caller's array is ever written.
            state = keras.tree.map_structure(
                lambda t: ops.convert_to_tensor(t).clone(), state
            )
            if compiled is None:
                for i in range(int(start), int(stop)):
                    state = step_fn(i, state, noise[i], temperature)
                return state
            steps = torch.arange(int(stop), dtype=torch.int32)
            temperature = torch.tensor(float(temperature))
            for i in range(int(start), int(stop)):
                state = compiled(steps[i], state, noise[i], temperature)
            return state

    return run
