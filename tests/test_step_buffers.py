"""`StepBuffers`: reads see the step's writes; commit applies them.

The in-place ordering it exists for is a compiler matter (measured by
benchmarks/generate.py); here: the values are those of the plain
write-then-read on every backend, eagerly and inside a compiled loop.
"""

import numpy as np
import pytest
from keras import ops

from keras_ar.backend import compile_loop
from keras_ar.ops.step_buffers import StepBuffers


def _reference(buffer, start, value):
    out = buffer.copy()
    index = tuple(slice(s, s + n) for s, n in zip(start, value.shape))
    out[index] = value
    return out


def _window(buffer, start, size):
    return buffer[tuple(slice(s, s + n) for s, n in zip(start, size))]


# (write start, write shape, read start, read size): a pixel inside and
# outside a 2x2 window, a row spanning a 1x1 window and a 2-row window.
CASES = [
    ((0, 2, 3, 0), (2, 1, 1, 3), (0, 1, 2, 0), (2, 2, 2, 3)),
    ((0, 2, 3, 0), (2, 1, 1, 3), (0, 3, 2, 0), (2, 2, 2, 3)),
    ((0, 2, 3, 0), (2, 1, 1, 3), (0, 2, 3, 0), (2, 1, 1, 3)),
    ((0, 2, 1, 0), (2, 1, 4, 3), (0, 2, 3, 0), (2, 1, 1, 3)),
    ((0, 2, 1, 0), (2, 1, 4, 3), (0, 1, 0, 0), (2, 2, 6, 3)),
    ((0, 2, 1, 0), (2, 1, 4, 3), (0, 3, 0, 0), (2, 2, 6, 3)),
]


@pytest.mark.parametrize("write_start, write_shape, read_start, read_size", CASES)
def test_read_sees_write_and_commit_applies_it(
    write_start, write_shape, read_start, read_size
):
    rng = np.random.default_rng(0)
    buffer = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    value = rng.normal(size=write_shape).astype("float32")
    expected = _reference(buffer, write_start, value)
    # Tensor start indices, as in a compiled loop.
    as_tensors = [ops.convert_to_tensor(s, "int32") for s in write_start]
    read_at = [ops.convert_to_tensor(s, "int32") for s in read_start]
    buffers = StepBuffers({"h": ops.convert_to_tensor(buffer)}, never=read_at[1] < 0)
    buffers.write("h", ops.convert_to_tensor(value), as_tensors)
    window = buffers.read("h", read_at, read_size)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(window), _window(expected, read_start, read_size)
    )
    new = buffers.commit(after=window)
    np.testing.assert_array_equal(ops.convert_to_numpy(new["h"]), expected)


def test_child_sees_parent_writes_and_keeps_its_own_apart():
    buffer = np.zeros((1, 3, 3, 1), "float32")
    parent = StepBuffers(
        {"a": ops.convert_to_tensor(buffer), "b": ops.convert_to_tensor(buffer)},
        never=ops.convert_to_tensor(False),
    )
    parent.write("a", ops.ones((1, 1, 1, 1)), [0, 1, 1, 0])
    child = parent.child()
    seen = child.read("a", [0, 0, 0, 0], [1, 2, 2, 1])
    assert ops.convert_to_numpy(seen)[0, 1, 1, 0] == 1.0
    child.write("b", 2.0 * ops.ones((1, 1, 1, 1)), [0, 2, 2, 0])
    assert sorted(child.pending()) == ["b"]
    assert sorted(parent.pending()) == ["a"]


def test_a_buffer_is_written_once_per_step():
    buffers = StepBuffers({"h": ops.zeros((1, 2))}, never=ops.convert_to_tensor(False))
    buffers.write("h", ops.ones((1, 1)), [0, 0])
    with pytest.raises(ValueError, match="written twice"):
        buffers.write("h", ops.ones((1, 1)), [0, 1])


def test_in_a_compiled_loop_equals_the_plain_recurrence():
    """A running sum along a row through a cache, one position per step:
    each step reads the window holding the position it has just written."""
    width = 5
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(width, 2, 1, 1)).astype("float32")

    class Holder:  # compile_loop reads the variables of a "model".
        variables = []

    def step(i, state, noise_i, temperature):
        buffers = StepBuffers({"h": state["h"]}, never=i < 0)
        previous = buffers.read("h", [0, i], [2, 1])  # position i - 1 (padded)
        buffers.write("h", previous + noise_i[:, 0], [0, i + 1])
        current = buffers.read("h", [0, i], [2, 2])  # i - 1 and i
        return {"h": buffers.commit(after=current)["h"]}

    run = compile_loop(Holder(), step)
    state = {"h": ops.zeros((2, width + 1), "float32")}
    out = ops.convert_to_numpy(
        run(state, ops.convert_to_tensor(inputs), 0, width, 1.0)["h"]
    )
    expected = np.concatenate(
        [np.zeros((2, 1)), np.cumsum(inputs[:, :, 0, 0].T, axis=1)], axis=1
    )
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_replace_takes_new_values_and_refuses_pending_ones():
    buffers = StepBuffers({"h": ops.zeros((1, 3)), "c": ops.zeros((1, 3))}, never=False)
    buffers.replace({"c": ops.ones((1, 3))})  # e.g. a loop's results
    window = buffers.read("c", [0, 1], [1, 2])
    np.testing.assert_array_equal(ops.convert_to_numpy(window), [[1.0, 1.0]])
    buffers.write("h", ops.ones((1, 1)), [0, 0])
    with pytest.raises(ValueError, match="pending write"):
        buffers.replace({"h": ops.zeros((1, 3))})
