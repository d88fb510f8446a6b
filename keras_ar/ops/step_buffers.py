"""`StepBuffers`: cache buffers updated in place inside a compiled loop.

A cached generation step reads windows of loop-carried cache buffers and
writes a few new positions into them. XLA (JAX, TensorFlow) updates a
buffer in place only when it can prove that every read of the buffer's old
value happens before the write. It proves that from data dependencies
alone; otherwise it copies the whole buffer, every step. Two patterns that
look harmless both cost a full copy per buffer per step:

- write a position, then read a window that holds it (the next layer's
  convolution over the freshly written activation);
- read a window, then write a position whose value does not depend on
  that read.

On the PixelCNN++ cache (tens of MB at 32x32) these copies, not the
arithmetic, were most of the time of a step. `StepBuffers` gives a step the
view it wants (reads see this step's writes) while keeping XLA's proof
simple: every read slices the *old* buffer and patches in what this step
wrote there; the writes wait until `commit(after)`, where each one is tied
by a data dependency to `after`, a tensor the step computes from all its
reads (a `where` on a predicate that is always false at run time but not
known to be at compile time). Values
are unchanged; only the order XLA is shown changes.

Eager PyTorch needs none of this, and its `slice_update` copies the whole
buffer on every call: there `StepBuffers` writes in place at once and reads
plain slices, which see the writes (`keras_ar.backend.slicing`).
"""

from keras import ops

from keras_ar.backend.slicing import (
    _torch_compiling,
    cast,
    eager_index,
    loop_slice,
    loop_slice_update,
    slice_update,
    updates_in_place,
)


class StepBuffers:
    """One step's reads and writes of a dict of cache buffers.

    Args:
        buffers: dict name -> tensor, the loop-carried caches (any rank >= 1;
            axis 0 is the batch).
        never: a boolean scalar tensor that is False at run time but that
            the compiler cannot fold (e.g. `step < 0` for a loop index).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> step = ops.convert_to_tensor(3)
    >>> caches = StepBuffers({"h": ops.zeros((1, 4, 2))}, never=step < 0)
    >>> caches.write("h", ops.ones((1, 1, 2)), (0, 3, 0))
    >>> window = caches.read("h", (0, 2, 0), (1, 2, 2))  # sees the write
    >>> ops.convert_to_numpy(window)[0, :, 0].tolist()
    [0.0, 1.0]
    >>> new = caches.commit(after=window)
    >>> ops.convert_to_numpy(new["h"])[0, :, 0].tolist()
    [0.0, 0.0, 0.0, 1.0]
    """

    def __init__(self, buffers, never, parent=None):
        self.old = dict(buffers)
        self.never = never
        self._pending = {}
        self._parent = parent
        # PyTorch: write at once, in place (nothing to order); eagerly,
        # as plain indexing (a step makes dozens of reads and writes).
        self._direct = updates_in_place()
        self._eager = self._direct and not _torch_compiling()

    def child(self):
        """A `StepBuffers` whose reads also see this one's writes and whose
        own writes stay apart: for the branch of a condition, which returns
        `child.pending()` for the caller to `write`."""
        return StepBuffers(self.old, self.never, parent=self)

    def _written(self, name):
        if name in self._pending:
            return self._pending[name]
        return None if self._parent is None else self._parent._written(name)

    def shape(self, name):
        if self._direct:  # PyTorch: its own shape, without Keras' dispatch
            return tuple(self.old[name].shape)
        return ops.shape(self.old[name])

    def read(self, name, start, size):
        """The window `[start, start + size)` of `name`, with this step's
        write to `name` (if any) patched in (see `_patch` for the windows
        and writes this supports)."""
        if self._eager:
            return self.old[name][eager_index(start, size)]
        if self._direct:
            return loop_slice(self.old[name], start, size)
        window = loop_slice(self.old[name], start, size)
        written = self._written(name)
        if written is not None:
            window = _patch(window, start, size, *written)
        return window

    def write(self, name, value, start):
        """Writes `value` at `start` of `name` (once per buffer per step)."""
        if name in self._pending:
            raise ValueError(f"buffer {name!r} is written twice in one step")
        value = cast(value, self.old[name].dtype)
        self._pending[name] = (value, start)
        if self._eager:
            self.old[name][eager_index(start, value.shape)] = value
        elif self._direct:
            self.old[name] = loop_slice_update(self.old[name], start, value)

    def replace(self, buffers):
        """Takes `buffers` (`{name: tensor}`, e.g. the results of a loop
        that wrote them) as the current values of those buffers; none of
        them may have a write pending in this step."""
        for name, value in buffers.items():
            if self._written(name) is not None:
                raise ValueError(f"buffer {name!r} has a pending write")
            self.old[name] = value

    def pending(self):
        """This step's writes, `{name: value}`, without applying them (e.g.
        to return them from a branch of a condition)."""
        return {name: value for name, (value, _) in self._pending.items()}

    def commit(self, after):
        """The buffers with this step's writes, updated in place.

        Args:
            after: a tensor computed from every read of this step (e.g. the
                step's output). Each write is tied to it, so XLA sees every
                read of an old buffer come before that buffer's write.
                (Tying a write to its reads directly does not work: XLA
                fuses the read into the update and then copies anyway.)
        """
        if self._direct:  # Already written.
            return dict(self.old)
        corner = after[tuple(slice(0, 1) for _ in after.shape)]
        corner = ops.reshape(corner, ())
        out = dict(self.old)
        for name, (value, start) in self._pending.items():
            # Never taken: it only orders the write after the reads.
            value = ops.where(self.never, ops.cast(corner, value.dtype), value)
            out[name] = loop_slice_update(self.old[name], start, value)
        return out


def _patch(window, start, size, value, value_start):
    """`window` (a slice at `start`) with the part of `value` (written at
    `value_start` of the same buffer) that falls inside it.

    Along each axis the smaller of the two must lie wholly inside the other
    or wholly outside it (true of every window a cached convolution reads:
    a position or a row written, a window or a position read)."""
    conditions = []
    take_start, take_size = [0], [ops.shape(value)[0]]
    put_start = [0]  # The batch axis is whole in both.
    for s, n, v, m in list(zip(start, size, value_start, value.shape))[1:]:
        if m >= n:  # The value spans the window: take the window's part.
            offset, room = s - v, m - n
            take_size.append(n)
        else:  # The window spans the value: put it in its place.
            offset, room = v - s, n - m
            take_size.append(m)
        if isinstance(offset, int):  # Static: decide now.
            if not 0 <= offset <= room:
                return window
        else:
            conditions.append(ops.logical_and(offset >= 0, offset <= room))
            offset = ops.clip(offset, 0, room)
        take_start.append(offset if m >= n else 0)
        put_start.append(0 if m >= n else offset)
    piece = loop_slice(value, take_start, take_size)
    patched = slice_update(window, put_start, piece)
    if not conditions:
        return patched
    inside = conditions[0]
    for condition in conditions[1:]:
        inside = ops.logical_and(inside, condition)
    return ops.where(inside, patched, window)
