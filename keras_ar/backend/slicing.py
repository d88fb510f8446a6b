"""Slices of generation-loop state at positions known only at run time.

`ops.slice` / `ops.slice_update` with tensor start indices are what a
compiled loop needs on JAX and TensorFlow (they lower to one
dynamic-slice). On PyTorch they are slow inside a sampling loop: every
`slice_update` clones the whole buffer (a 16x16 PixelCNN's caches are
megabytes, copied at every step), and tensor start indices go through
`arange`/`meshgrid`/`index_put`. These two functions are the loop's
versions:

- JAX / TensorFlow: exactly `ops.slice` / `ops.slice_update`.
- PyTorch, eager: start indices become Python ints, `loop_slice` returns a
  view, and `loop_slice_update` writes into the buffer in place.
- PyTorch under `torch.compile`: index arithmetic on tensors only (no
  `.item()`, so no graph break); the update is an in-place `index_put_`,
  which the compiler turns into a scatter into the loop state.
- TensorFlow without XLA (the compression loop, a served SavedModel's
  `generate`): inside a loop body traced under `tf_in_place_loop`,
  `loop_slice_update` writes in place too (`tf.raw_ops.InplaceUpdate`,
  ordered after every read of the old buffer; see the end of this module).

`loop_slice_update` may therefore modify `buffer`: use it only on loop
state that nothing reads after the update (the sampling loop clones its
initial state once, so a caller's arrays are never written).
`slice_update` is the pure version (for a buffer still read afterwards),
and `loop_cond` the step's branch (see there for `torch.compile`).
"""

import contextlib
import threading

import keras
from keras import ops


def updates_in_place():
    """True where `loop_slice_update` writes into its buffer (PyTorch), so
    that a read after it sees the write without any ordering help."""
    return keras.backend.backend() == "torch"


def _torch_compiling():
    import torch

    return torch.compiler.is_compiling()


def torch_tensor(x, dtype=None):
    """`x` as a torch tensor (of `dtype`), without Keras' conversion when it
    already is one: an eager sampling step makes thousands of these calls,
    and Keras' `convert_to_tensor` costs several microseconds each."""
    import torch

    if not torch.is_tensor(x):
        x = ops.convert_to_tensor(x)
    if dtype is not None and x.dtype != dtype:
        x = x.to(dtype)
    return x


def _torch_dtype(dtype):
    """The torch dtype of `dtype` (a name or a torch dtype), memoised."""
    found = _TORCH_DTYPES.get(dtype)
    if found is None:
        import torch

        found = getattr(torch, keras.backend.standardize_dtype(dtype))
        _TORCH_DTYPES[dtype] = found
    return found


_TORCH_DTYPES = {}


def cast(x, dtype):
    """`ops.cast`; in torch directly on PyTorch (see `torch_tensor`)."""
    if keras.backend.backend() != "torch":
        return ops.cast(x, dtype)
    return torch_tensor(x, _torch_dtype(dtype))


def reshape(x, shape):
    """`ops.reshape`; in torch directly on PyTorch, where Keras' own costs
    tens of microseconds per call of an eager sampling step."""
    if keras.backend.backend() != "torch":
        return ops.reshape(x, shape)
    return torch_tensor(x).reshape(tuple(shape))


def concatenate(tensors, axis):
    """`ops.concatenate`; in torch directly on PyTorch (see `reshape`)."""
    if keras.backend.backend() != "torch":
        return ops.concatenate(tensors, axis=axis)
    import torch

    return torch.cat([torch_tensor(t) for t in tensors], dim=axis)


def as_pixel(values, dtype):
    """`(B, F)` -> `(B, 1, 1, F)` in `dtype`: one pixel, for a
    `loop_slice_update` of an image-shaped cache (in torch directly there:
    two Keras dispatches fewer per eager step)."""
    if keras.backend.backend() == "torch":
        return torch_tensor(values, _torch_dtype(dtype))[:, None, None]
    return ops.expand_dims(ops.cast(values, dtype), (1, 2))


def eager_index(start_indices, shape):
    """The basic index of the window `[start, start + shape)` (its starts
    Python ints or one-element tensors): a view, on eager PyTorch."""
    return tuple(slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))


def loop_slice(inputs, start_indices, shape):
    """`ops.slice(inputs, start_indices, shape)`; a view on eager PyTorch."""
    if keras.backend.backend() != "torch":
        return ops.slice(inputs, start_indices, shape)
    import torch

    inputs = torch_tensor(inputs)
    shape = [int(s) for s in shape]
    if not _torch_compiling():
        return inputs[eager_index(start_indices, shape)]
    for dim, (start, size) in enumerate(zip(start_indices, shape)):
        if isinstance(start, int) or not torch.is_tensor(start):
            inputs = inputs.narrow(dim, int(start), size)
        else:
            positions = start.reshape(()).long() + torch.arange(
                size, device=inputs.device
            )
            inputs = inputs.index_select(dim, positions)
    return inputs


def loop_slice_update(buffer, start_indices, updates):
    """`ops.slice_update(buffer, start_indices, updates)`; on PyTorch, and in
    a TensorFlow loop traced under `tf_in_place_loop`, it writes into
    `buffer` in place and returns it."""
    if keras.backend.backend() == "tensorflow" and _tf_in_place():
        return _tf_update_in_place(buffer, start_indices, updates)
    if keras.backend.backend() != "torch":
        return ops.slice_update(buffer, start_indices, updates)
    buffer = torch_tensor(buffer)
    updates = torch_tensor(updates, buffer.dtype)
    if not _torch_compiling():
        buffer[eager_index(start_indices, updates.shape)] = updates
        return buffer
    buffer.index_put_(_torch_index(buffer, start_indices, updates.shape), updates)
    return buffer


def slice_update(buffer, start_indices, updates):
    """`ops.slice_update`, never in place: for buffers whose old value is
    still read after the update. Under `torch.compile` the start indices stay
    tensors (Keras' own version turns a list of them into one tensor, which
    the compiler cannot trace)."""
    if keras.backend.backend() != "torch" or not _torch_compiling():
        return ops.slice_update(buffer, start_indices, updates)
    buffer = ops.convert_to_tensor(buffer)
    updates = ops.convert_to_tensor(updates).to(buffer.dtype)
    return buffer.index_put(_torch_index(buffer, start_indices, updates.shape), updates)


#: On PyTorch, the branches of the current sampling step that are known in
#: Python (`{key: bool}`), set by the sampling loop from the model's
#: `_static_branches(step)`; see `loop_cond`.
STATIC_BRANCHES = {}


def loop_cond(pred, true_fn, false_fn, key=None):
    """`ops.cond` for a generation step.

    On PyTorch the branch is chosen in Python. Where the sampling loop knows
    the outcome from the step index alone (`key` in `STATIC_BRANCHES`, e.g.
    "this pixel starts a row") it takes that branch without reading `pred`:
    under `torch.compile` the step then stays one graph, compiled once per
    combination of branches, instead of breaking at the branch into many
    small graphs. Otherwise it reads `pred` (a graph break when compiling).
    """
    if keras.backend.backend() != "torch":
        return ops.cond(pred, true_fn, false_fn)
    if key is not None and key in STATIC_BRANCHES:
        return true_fn() if STATIC_BRANCHES[key] else false_fn()
    if getattr(getattr(pred, "device", None), "type", None) == "meta":
        return true_fn()  # Keras' shape inference: as `ops.cond` does.
    return true_fn() if bool(pred) else false_fn()


def skip_when(pred, state, step_fn, kept):
    """`ops.cond(pred, lambda: state, step_fn)` for a generation step whose
    later steps change nothing once `pred` holds (e.g. every text stopped).

    `kept` names the entries of the `state` dict that the result is read
    from (the samples, the stop flags); the other entries (caches) must be
    state that nothing reads once `pred` holds.

    - JAX / TensorFlow: `ops.cond` (the step is skipped).
    - PyTorch: `step_fn()` always runs, and the `kept` entries are
      `ops.where(pred, old, new)`. Keras' `ops.cond` makes a new named
      operation at each call, which `torch.compile` guards on (a
      recompilation at every step), and a branch on a tensor would break
      the compiled graph; the loop ends early instead
      (`compile_loop(..., finished=...)`). The kept entries are equal
      either way; the caches may hold one more (unread) step.
    """
    if keras.backend.backend() != "torch":
        return ops.cond(pred, lambda: state, step_fn)
    new = step_fn()
    result = dict(new)
    for key in kept:
        if key in state:
            result[key] = ops.where(pred, state[key], new[key])
    return result


def pad_zeros(x, pad_width):
    """`ops.pad(x, pad_width)` (zeros), made of concatenations: on PyTorch
    `ops.pad` creates a new named Keras operation at each call, which
    `torch.compile` guards on, so a step using it recompiles at every call."""
    for axis, (before, after) in enumerate(pad_width):
        parts = [x]
        for size, at in ((before, 0), (after, 1)):
            if size:
                shape = list(ops.shape(x))
                shape[axis] = size
                parts.insert(len(parts) * at, ops.zeros(shape, x.dtype))
        if len(parts) > 1:
            x = ops.concatenate(parts, axis=axis)
    return x


def _torch_index(buffer, start_indices, sizes):
    """Broadcast index vectors, one per axis: (n0, 1, 1, ...), (n1, 1, ...)."""
    import torch

    rank = len(sizes)
    index = []
    for dim, (start, size) in enumerate(zip(start_indices, sizes)):
        offset = start.reshape(()).long() if torch.is_tensor(start) else int(start)
        positions = torch.arange(size, device=buffer.device) + offset
        index.append(positions.reshape([size] + [1] * (rank - dim - 1)))
    return tuple(index)


# ----------------------------------------------------------------------------
# TensorFlow graphs without XLA (the compression loop: `tf.numpy_function`
# has no XLA kernel). There every `slice_update` of a loop-carried cache
# copies the whole cache, every step: tens of MB a step, most of a step's
# time. `tf.raw_ops.InplaceUpdate` writes rows of a tensor in place instead.
# A graph runs its operations in the order of their data dependencies, not
# in program order, so an in-place write is made to wait (control
# dependencies) for every operation already built downstream of the buffer
# it writes: every read of the old value has run before the write changes
# it. Reads built after the write must use the returned buffer (the
# contract of `loop_slice_update`, as on PyTorch). Writes inside a nested
# function (a `cond` branch) stay copies: the reads outside it are not
# visible from there.
_TF_IN_PLACE = threading.local()  # .graph: the loop body being traced


@contextlib.contextmanager
def tf_in_place_loop():
    """Traces a TensorFlow loop body whose `loop_slice_update`s write in
    place (see above). The loop's initial state must be a copy that nothing
    else holds (`tf_private_copy`)."""
    import tensorflow as tf

    previous = getattr(_TF_IN_PLACE, "graph", None)
    _TF_IN_PLACE.graph = tf.compat.v1.get_default_graph()
    try:
        yield
    finally:
        _TF_IN_PLACE.graph = previous


def in_place_loop_body():
    """`tf_in_place_loop()` on TensorFlow (for a loop body traced into a graph
    that runs without XLA); nothing on the other backends."""
    if keras.backend.backend() == "tensorflow":
        return tf_in_place_loop()
    return contextlib.nullcontext()


def private_loop_state(state):
    """The loop state (a nest of tensors) copied into buffers of its own on
    TensorFlow, for a loop body traced under `in_place_loop_body`; unchanged
    on the other backends."""
    if keras.backend.backend() != "tensorflow":
        return state
    return keras.tree.map_structure(tf_private_copy, state)


def tf_private_copy(tensor):
    """A copy of `tensor` in a buffer of its own, for a loop that writes its
    state in place: no caller's array, and no constant of the graph, is
    ever written."""
    import tensorflow as tf

    return tf.raw_ops.DeepCopy(x=tensor)


def _tf_in_place():
    graph = getattr(_TF_IN_PLACE, "graph", None)
    if graph is None:
        return False
    import tensorflow as tf

    return tf.compat.v1.get_default_graph() is graph


def _tf_update_in_place(buffer, start_indices, updates):
    import tensorflow as tf

    buffer = tf.convert_to_tensor(buffer)
    updates = tf.cast(tf.convert_to_tensor(updates), buffer.dtype)
    rank = len(buffer.shape)
    # Rows of the in-place update: every axis but the last, flattened; the
    # last axis too where the update covers only part of it. (A served
    # graph's batch size is known only at run time.)
    last, last_update = buffer.shape[-1], updates.shape[-1]
    whole_last = (
        rank > 1
        and last is not None
        and last_update is not None
        and int(last_update) == int(last)
        and isinstance(start_indices[-1], int)
        and start_indices[-1] == 0
    )
    lead, inner = (rank - 1, int(last)) if whole_last else (rank, 1)
    readers = _downstream_ops(buffer)
    dims, size = tf.shape(buffer), tf.shape(updates)
    index = tf.zeros([1], "int32")
    for axis in range(lead):
        start = tf.cast(tf.reshape(start_indices[axis], []), "int32")
        index = index[:, None] * dims[axis] + (start + tf.range(size[axis]))[None, :]
        index = tf.reshape(index, [-1])
    with tf.control_dependencies(readers):
        rows = tf.reshape(buffer, [-1, inner])
        written = tf.raw_ops.InplaceUpdate(
            x=rows, i=index, v=tf.reshape(updates, [-1, inner])
        )
    return tf.reshape(written, dims)


def _downstream_ops(tensor):
    """Every operation already built that reads `tensor`, directly or
    through other operations (views of the same buffer included)."""
    seen, todo = {}, [tensor]
    while todo:
        for op in todo.pop().consumers():
            if op.name not in seen:
                seen[op.name] = op
                todo.extend(op.outputs)
    return list(seen.values())
