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

`loop_slice_update` may therefore modify `buffer`: use it only on loop
state that nothing reads after the update (the sampling loop clones its
initial state once, so a caller's arrays are never written).
"""

import keras
from keras import ops


def updates_in_place():
    """True where `loop_slice_update` writes into its buffer (PyTorch), so
    that a read after it sees the write without any ordering help."""
    return keras.backend.backend() == "torch"


def _torch_compiling():
    import torch

    return torch.compiler.is_compiling()


def loop_slice(inputs, start_indices, shape):
    """`ops.slice(inputs, start_indices, shape)`; a view on eager PyTorch."""
    if keras.backend.backend() != "torch":
        return ops.slice(inputs, start_indices, shape)
    import torch

    inputs = ops.convert_to_tensor(inputs)
    shape = [int(s) for s in shape]
    if not _torch_compiling():
        index = tuple(
            slice(int(s), int(s) + n) for s, n in zip(start_indices, shape)
        )
        return inputs[index]
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
    """`ops.slice_update(buffer, start_indices, updates)`; on PyTorch it
    writes into `buffer` in place and returns it."""
    if keras.backend.backend() != "torch":
        return ops.slice_update(buffer, start_indices, updates)
    import torch

    buffer = ops.convert_to_tensor(buffer)
    updates = ops.convert_to_tensor(updates).to(buffer.dtype)
    if not _torch_compiling():
        index = tuple(
            slice(int(s), int(s) + n) for s, n in zip(start_indices, updates.shape)
        )
        buffer[index] = updates
        return buffer
    # Broadcast index vectors, one per axis: (n0, 1, 1, ...), (n1, 1, ...), ...
    rank = len(updates.shape)
    index = []
    for dim, (start, size) in enumerate(zip(start_indices, updates.shape)):
        offset = start.reshape(()).long() if torch.is_tensor(start) else int(start)
        positions = torch.arange(size, device=buffer.device) + offset
        index.append(positions.reshape([size] + [1] * (rank - dim - 1)))
    buffer.index_put_(tuple(index), updates)
    return buffer
