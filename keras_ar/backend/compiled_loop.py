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
  state in place (`keras_ar.backend.slicing`). The cached step is compiled
  unless eager sampling is asked for (`torch_compile_backend`: the model
  compiled with `jit_compile=False`, or `KERAS_AR_TORCH_COMPILE=0`), with
  `torch.compile(dynamic=False)`: the step index is a tensor, so one
  compilation serves every step of a shape, except where the model's
  `_static_branches(step)` tells a branch apart (one compilation per
  combination, e.g. 2-6 for PixelCNN++), and except the steps that the
  model's `_eager_step(step)` runs eagerly (the Diagonal BiLSTM's row
  sweeps: a graph that took minutes to compile, for 1 step in 28).
  Compiling takes seconds to minutes on the first call and makes each later
  step several times cheaper; where it fails (no C++ compiler) the loop
  warns and runs eagerly, with the same samples.
"""

import contextlib
import os
import warnings

import keras
from keras import ops

#: The PyTorch loop checks `finished(state)` every this many steps.
FINISHED_CHECK_EVERY = 8


def compile_loop(model, step_fn, jit_compile=True, torch_compile=True, finished=None):
    """Returns `run(state, noise, start, stop, temperature) -> state`.

    Args:
        model: the Keras model whose variables `step_fn` reads.
        step_fn: `step_fn(i, state, noise_i, temperature) -> state`, where
            `state` is a dict of tensors whose shapes and dtypes do not change
            from step to step, and `noise_i = noise[i]`.
        jit_compile: compile with XLA on TensorFlow (JAX always compiles).
        torch_compile: on PyTorch, whether the step may be compiled (when
            `torch_compile_backend(model)` asks for it); False keeps it eager.
        finished: optional `finished(state) -> bool scalar tensor`: True
            once the remaining steps change nothing that is read (e.g.
            every text stopped). The PyTorch loop checks it every
            `FINISHED_CHECK_EVERY` steps and ends early; the compiled loops
            of the other backends skip such steps inside the step itself.
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
        return _torch_loop(
            model,
            step_fn,
            getattr(model, "_static_branches", None),
            allow_compile=torch_compile,
            eager_step=getattr(model, "_eager_step", None),
            finished=finished,
        )
    # Any other backend (e.g. numpy): the plain loop.
    return loop


def torch_compile_backend(model=None):
    """The `torch.compile` backend of the PyTorch sampling step, or None
    for the eager loop (always None on the other Keras backends).

    The cached step is compiled by default (inductor): it is one graph for
    every family, several times faster than eager after a first call that
    compiles (seconds to a few minutes), and the loop falls back to eager,
    with a warning, where compiling fails (e.g. no C++ compiler).

    - `KERAS_AR_TORCH_COMPILE`: "0" samples eagerly, "1" (or "inductor")
      compiles, another value names a `torch.compile` backend (e.g.
      "aot_eager", which traces without generating code: for tests).
    - Unset: eager for a model compiled with `jit_compile=False` or
      `run_eagerly=True` (Keras' own switches), compiled otherwise.
    """
    if keras.backend.backend() != "torch":
        return None
    value = os.environ.get("KERAS_AR_TORCH_COMPILE", "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return None
    if value in ("1", "true", "yes", "on"):
        return "inductor"
    if value:
        return value
    if model is not None and getattr(model, "_keras_ar_eager_sampling", False):
        return None
    return "inductor"


def torch_compile_enabled(model=None):
    """Whether the PyTorch sampling step is compiled (`torch_compile_backend`)."""
    return torch_compile_backend(model) is not None


def _torch_loop(
    model,
    step_fn,
    static_branches=None,
    allow_compile=True,
    eager_step=None,
    finished=None,
):
    """The PyTorch loop (see the module docstring). `eager_step(i)`: True
    for the steps of a compiled loop that run eagerly anyway (the model's
    `_eager_step`): rare steps whose graph would take long to compile.
    `finished`: see `compile_loop`."""
    import torch

    from keras_ar.backend import slicing

    compiled = {}  # torch.compile backend -> compiled step

    def compiled_step(backend):
        if backend not in compiled:
            import torch._dynamo

            # A step that still branches on a tensor is several graphs, and
            # the code after a branch is one frame that each layer reaches
            # with its own weights: allow one compiled version each instead
            # of falling back to eager after the default 8.
            config = torch._dynamo.config
            config.recompile_limit = max(config.recompile_limit, 64)
            config.accumulated_recompile_limit = max(
                config.accumulated_recompile_limit, 1024
            )
            compiled[backend] = torch.compile(step_fn, dynamic=False, backend=backend)
        return compiled[backend]

    def set_branches(i):
        # The branches the model can tell from the step index alone
        # (`keras_ar.backend.slicing.loop_cond`): one compiled graph per
        # combination, no graph break at them.
        slicing.STATIC_BRANCHES.clear()
        if static_branches is not None:
            slicing.STATIC_BRANCHES.update(static_branches(i))

    def ended(i, start, state):
        # After step i - 1: has everything that is read stopped changing?
        return (
            finished is not None
            and (i - start) % FINISHED_CHECK_EVERY == 0
            and bool(finished(state))
        )

    def run(state, noise, start, stop, temperature):
        start, stop = int(start), int(stop)
        backend = torch_compile_backend(model) if allow_compile else None
        with torch.no_grad():
            # The steps update the state in place (keras_ar.backend.slicing):
            # copy it once, so that no caller's array is ever written.
            state = keras.tree.map_structure(
                lambda t: ops.convert_to_tensor(t).clone(), state
            )
            guards = contextlib.ExitStack()
            try:
                i = start
                if backend is not None and start < stop:
                    # The first step runs eagerly: it makes the layers'
                    # cached constants (keras_ar.backend.constants) real
                    # tensors before the compiler traces them.
                    set_branches(i)
                    state = step_fn(i, state, noise[i], temperature)
                    i += 1
                    step = compiled_step(backend)
                    steps = torch.arange(stop, dtype=torch.int32)
                    temp = torch.tensor(float(temperature))
                    # Dynamo checks thousands of guards per call through
                    # Keras layers (6 ms a step for WaveNet). Within a run
                    # only the step index, the static branches and the
                    # state's values change, as long as the state's tensors
                    # keep their shapes, dtypes and strides: once every
                    # branch combination ran here with all guards checked,
                    # and while the state keeps the signature it had then,
                    # only the guards that tell compiled versions apart run.
                    eager = set()
                    if eager_step is not None:
                        eager = {j for j in range(i, stop) if eager_step(j)}
                    variants = {
                        _branch_key(static_branches, j)
                        for j in range(i, stop)
                        if j not in eager
                    }
                    seen = set()
                    signature = _signature(state)
                    fast = False
                    while i < stop:
                        set_branches(i)
                        if i in eager:
                            state = step_fn(i, state, noise[i], temperature)
                        else:
                            if not fast and seen >= variants:
                                fast = True
                                guards.enter_context(
                                    torch.compiler.set_stance(skip_guard_eval_unsafe=True)
                                )
                            try:
                                state = step(steps[i], state, noise[i], temp)
                            except Exception as error:  # noqa: BLE001
                                if fast and "skip_guard_eval_unsafe" in str(error):
                                    # A version this step needs is missing:
                                    # check every guard again from here on.
                                    guards.close()
                                    fast, variants = False, {None}
                                    continue
                                if not _is_compiler_error(error):
                                    raise
                                # No compiler here (or it failed on this
                                # step): the eager loop, same samples.
                                warnings.warn(
                                    "torch.compile failed for the sampling step "
                                    f"({type(error).__name__}: {str(error)[:200]}); "
                                    "sampling eagerly instead.",
                                    stacklevel=2,
                                )
                                break
                            if not fast:
                                seen.add(_branch_key(static_branches, i))
                        if _signature(state) != signature:
                            # The state changed form (after a compiled or an
                            # eager step): all guards again.
                            guards.close()
                            fast, variants = False, {None}
                        i += 1
                        if ended(i, start, state):
                            return state
                while i < stop:  # Eager (or the rest after a failed compile).
                    set_branches(i)
                    state = step_fn(i, state, noise[i], temperature)
                    i += 1
                    if ended(i, start, state):
                        return state
                return state
            finally:
                guards.close()
                slicing.STATIC_BRANCHES.clear()

    return run


def _signature(state):
    """The structure of `state` and each tensor's shape, dtype and strides."""
    import torch.utils._pytree as pytree

    leaves, spec = pytree.tree_flatten(state)
    return spec, tuple((t.shape, t.dtype, t.stride()) for t in leaves)


def _branch_key(static_branches, step):
    if static_branches is None:
        return ()
    return tuple(sorted(static_branches(step).items()))


def _is_compiler_error(error):
    """A failure of torch.compile itself (not of the step's arithmetic)."""
    module = type(error).__module__
    return module.startswith(("torch._dynamo", "torch._inductor")) or type(
        error
    ).__name__ in ("BackendCompilerFailed", "InductorError", "CppCompileError")
