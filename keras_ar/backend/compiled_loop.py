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
  with relaxed shapes instead of once per call. A loop that may not use
  XLA (`jit_compile=False`: the compression loop's host calls) is a graph
  whose caches are written in place (`keras_ar.backend.slicing`), on a
  private copy of its initial state.
- PyTorch: a Python loop under `torch.no_grad()` that updates the loop
  state in place (`keras_ar.backend.slicing`). Unless the user chose
  (`torch_compile_setting`: `KERAS_AR_TORCH_COMPILE`, or the model compiled
  with `jit_compile` True or False), a first-call policy decides: the loop
  times a few eager steps and compiles the cached step only if the
  estimated compile time is at most half the eager time of the call's
  remaining steps (`AUTO_*` below), so that no call takes much more than
  1.5x the eager loop; once compiled for a model and state shape, later
  calls reuse it. Compiling uses `torch.compile(dynamic=False)`: the step index is a tensor, so one
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
import time
import warnings

import keras
from keras import ops

#: The PyTorch loop checks `finished(state)` every this many steps.
FINISHED_CHECK_EVERY = 8

# The PyTorch first-call policy (unless the user chose, see
# `torch_compile_explicit`): a call compiles the step only if the estimated
# compile time is at most (AUTO_MAX_RATIO - 1) x the eager time of its
# remaining steps, so that the call takes at most AUTO_MAX_RATIO x the eager
# loop even if the compiled step were no faster.
AUTO_MAX_RATIO = 1.5
#: The `torch.compile` backend of the policy.
AUTO_BACKEND = "inductor"
#: Eager steps timed (after the first one) before deciding.
AUTO_PROBE_STEPS = 2
#: Until this process has compiled the step once (then: what it measured),
#: a compilation is estimated at this many eager steps' time...
AUTO_COMPILE_EAGER_STEPS = 40000
#: ... and at least this many seconds (per graph).
AUTO_COMPILE_MIN_SECONDS = 30.0
#: With verbose="auto", the eager loop says why it does not compile when the
#: call will take at least this long.
AUTO_SAY_SECONDS = 20.0

#: The `generate` call in progress (see `generate_call`).
_CALLS = [{"verbose": "auto", "later_steps": 0}]
_SAID = set()


@contextlib.contextmanager
def generate_call(verbose):
    """Within: one `generate` call. The PyTorch loop's one-line messages
    (compiling, or a long eager call) follow `verbose` ("auto": said once
    per model and shape where it takes long; 1: said; 0: silent), and its
    first-call policy counts the steps that the call still runs after the
    loop in progress (`set_later_steps`: the later blocks and chunks)."""
    _CALLS.append({"verbose": verbose, "later_steps": 0})
    try:
        yield
    finally:
        _CALLS.pop()


def set_later_steps(count):
    """The steps that the `generate` call runs after the next loop."""
    _CALLS[-1]["later_steps"] = max(0, int(count))


def _say_once(verbose, key, long, message):
    if verbose == 0 or verbose is False or (verbose == "auto" and not long):
        return
    if key in _SAID:
        return
    _SAID.add(key)
    print(message, flush=True)


def _synchronize(state):
    """Waits for the device work of `state` (CUDA runs asynchronously)."""
    import torch

    for leaf in keras.tree.flatten(state):
        if getattr(leaf, "is_cuda", False):
            torch.cuda.synchronize(leaf.device)
            return


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
        traced = loop
        if not jit_compile:
            traced = _tf_in_place_loop(step_fn)
        compiled = tf.function(
            traced, jit_compile=jit_compile, reduce_retracing=True, autograph=False
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


def _tf_in_place_loop(step_fn):
    """The TensorFlow loop without XLA (the compression loop): its caches are
    written in place (`keras_ar.backend.slicing.tf_in_place_loop`) instead
    of copied at every step, on a private copy of the initial state."""
    from keras_ar.backend.slicing import in_place_loop_body, private_loop_state

    def loop(state, noise, start, stop, temperature):
        state = private_loop_state(state)

        def body(i, s):
            with in_place_loop_body():
                return step_fn(i, s, noise[i], temperature)

        return ops.fori_loop(start, stop, body, state)

    return loop


def torch_compile_backend(model=None):
    """The `torch.compile` backend of the PyTorch sampling step, or None
    for the eager loop (always None on the other Keras backends).

    The cached step may be compiled (inductor): one graph for every family,
    several times faster than eager per step, after a first call that
    compiles (seconds to a few minutes). The loop falls back to eager, with
    a warning, where compiling fails (e.g. no C++ compiler).

    - `KERAS_AR_TORCH_COMPILE`: "0" samples eagerly, "1" (or "inductor")
      compiles, another value names a `torch.compile` backend (e.g.
      "aot_eager", which traces without generating code: for tests).
    - Unset: eager for a model compiled with `jit_compile=False` or
      `run_eagerly=True` (Keras' own switches); otherwise "inductor", which
      the loop uses under its first-call policy unless the choice is
      explicit (`torch_compile_explicit`).
    """
    return torch_compile_setting(model)[0]


def torch_compile_explicit(model=None):
    """Whether the user chose how the PyTorch sampling step runs:
    `KERAS_AR_TORCH_COMPILE` set, or the model compiled with `jit_compile`
    True or False (or `run_eagerly=True`). Otherwise the loop follows its
    first-call policy (see `_torch_loop`): it compiles only where the
    compilation pays for itself within the call."""
    return torch_compile_setting(model)[1]


def torch_compile_setting(model=None):
    """`(backend or None, explicit)`: see `torch_compile_backend`."""
    if keras.backend.backend() != "torch":
        return None, True
    value = os.environ.get("KERAS_AR_TORCH_COMPILE", "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return None, True
    if value in ("1", "true", "yes", "on"):
        return "inductor", True
    if value == "auto":
        value = ""
    if value:
        return value, True
    if model is not None and getattr(model, "_keras_ar_eager_sampling", False):
        return None, True
    if model is not None and getattr(model, "_keras_ar_compiled_sampling", False):
        return "inductor", True
    return AUTO_BACKEND, False


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

    from keras_ar.backend import constants, slicing

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

    ready = set()  # (backend, state signature) compiled in an earlier call
    decided = {}  # (backend, signature) -> eager seconds per step: compile
    warm = []  # non-empty once a step ran eagerly
    compile_seconds = []  # measured: the first compiled step less an eager one

    def eager_steps(state, noise, i, stop, temperature, count, start):
        """Up to `count` eager steps from `i`, timed: `(state, i, seconds
        per step or None, ended)`."""
        begin, done = time.perf_counter(), 0
        while i < stop and done < count:
            set_branches(i)
            state = step_fn(i, state, noise[i], temperature)
            i, done = i + 1, done + 1
            if ended(i, start, state):
                return state, i, None, True
        _synchronize(state)
        per_step = (time.perf_counter() - begin) / done if done else None
        return state, i, per_step, False

    def pays(per_step, remaining, num_variants):
        """The first-call policy: compile only where even a compiled step no
        faster than an eager one keeps the call within `AUTO_MAX_RATIO` of
        the eager loop: estimated compile time (`num_variants` graphs) <=
        (AUTO_MAX_RATIO - 1) x the eager time of the remaining steps."""
        unit = max(AUTO_COMPILE_MIN_SECONDS, AUTO_COMPILE_EAGER_STEPS * per_step)
        if compile_seconds:
            unit = max(compile_seconds)
        estimate = unit * max(1, num_variants)
        return estimate <= (AUTO_MAX_RATIO - 1.0) * remaining * per_step, estimate

    def run(state, noise, start, stop, temperature):
        start, stop = int(start), int(stop)
        backend, explicit = (
            torch_compile_setting(model) if allow_compile else (None, True)
        )
        verbose = _CALLS[-1]["verbose"]
        later = _CALLS[-1]["later_steps"]
        with torch.no_grad(), constants.weights_fixed():
            # The steps update the state in place (keras_ar.backend.slicing):
            # copy it once, so that no caller's array is ever written.
            state = keras.tree.map_structure(
                lambda t: ops.convert_to_tensor(t).clone(), state
            )
            guards = contextlib.ExitStack()
            try:
                i = start
                if backend is not None and start < stop and (explicit or not warm):
                    # A first step runs eagerly: it makes the layers'
                    # cached constants (keras_ar.backend.constants) real
                    # tensors before the compiler traces them.
                    state, i, _, stop_now = eager_steps(
                        state, noise, i, stop, temperature, 1, start
                    )
                    warm.append(True)
                    if stop_now:
                        return state
                if backend is not None and i < stop:
                    eager = set()
                    if eager_step is not None:
                        eager = {j for j in range(i, stop) if eager_step(j)}
                    key = (backend, _signature(state))
                    if not explicit and key not in ready and key in decided:
                        per_step = decided[key]  # An earlier block decided.
                    elif not explicit and key not in ready:
                        # Not compiled yet and not asked for: time a few
                        # eager steps, then compile only if it pays.
                        state, i, per_step, stop_now = eager_steps(
                            state, noise, i, stop, temperature, AUTO_PROBE_STEPS,
                            start,
                        )  # fmt: skip
                        if stop_now:
                            return state
                        # This loop's steps and the call's later ones
                        # (other blocks and chunks of the same shape).
                        remaining = stop - i + later
                        if per_step is None or remaining <= 0:
                            backend = None
                        else:
                            todo = {
                                _branch_key(static_branches, j)
                                for j in range(i, stop)
                                if j not in eager
                            }
                            worth, estimate = pays(per_step, remaining, len(todo))
                            if worth:
                                decided[key] = per_step
                            else:
                                backend = None
                                _say_once(
                                    verbose, (id(ready), "eager", key),
                                    remaining * per_step >= AUTO_SAY_SECONDS,
                                    f"keras_ar: sampling {remaining} steps with "
                                    f"the eager PyTorch loop (about "
                                    f"{remaining * per_step:.0f} s); compiling the "
                                    f"step (about {estimate:.0f} s) would not pay "
                                    "for itself in this call "
                                    "(KERAS_AR_TORCH_COMPILE=1 compiles anyway).",
                                )  # fmt: skip
                    else:
                        per_step = None
                if backend is not None and i < stop:
                    # The branch combinations still to run (after any probe).
                    variants = {
                        _branch_key(static_branches, j)
                        for j in range(i, stop)
                        if j not in eager
                    }
                    step = compiled_step(backend)
                    steps = torch.arange(stop, dtype=torch.int32)
                    temp = torch.tensor(float(temperature))
                    if key not in ready:
                        _say_once(
                            verbose, (id(ready), "compile", key), True,
                            "keras_ar: compiling the PyTorch sampling step "
                            f"(torch.compile, backend {backend!r}; once per "
                            "model and batch shape, seconds to minutes)...",
                        )  # fmt: skip
                    # Dynamo checks thousands of guards per call through
                    # Keras layers (6 ms a step for WaveNet). Within a run
                    # only the step index, the static branches and the
                    # state's values change, as long as the state's tensors
                    # keep their shapes, dtypes and strides: once every
                    # branch combination ran here with all guards checked,
                    # and while the state keeps the signature it had then,
                    # only the guards that tell compiled versions apart run.
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
                                    torch.compiler.set_stance(
                                        skip_guard_eval_unsafe=True
                                    )
                                )
                            timing = key not in ready
                            begin = time.perf_counter()
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
                            if timing:
                                _synchronize(state)
                                took = time.perf_counter() - begin
                                ready.add(key)
                                compile_seconds.append(took - (per_step or 0.0))
                                _say_once(
                                    verbose, (id(ready), "compiled", key), True,
                                    f"keras_ar: compiled in {took:.1f} s.",
                                )  # fmt: skip
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
