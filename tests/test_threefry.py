"""Threefry-2x32 in keras.ops: known answers and uniformity."""

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_ar.ops.threefry import stateless_uniform, threefry2x32

pytestmark = pytest.mark.skipif(
    keras.backend.backend() not in ("tensorflow", "jax"),
    reason="wrapping uint32 arithmetic: the export backends only (torch "
    "promotes uint32 to int64; it never runs an exported graph)",
)


@pytest.mark.parametrize(
    "key, counter, expected",
    [
        # Random123's known-answer vectors for threefry2x32_20.
        ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF,) * 2, (0xFFFFFFFF,) * 2, (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ],
)
def test_known_answers(key, counter, expected):
    def u32(v):
        return ops.convert_to_tensor(np.array([v], "uint32"))

    out = threefry2x32((u32(key[0]), u32(key[1])), (u32(counter[0]), u32(counter[1])))
    assert tuple(int(ops.convert_to_numpy(o)[0]) for o in out) == expected


def test_stateless_uniform_is_uniform_and_per_seed():
    seeds = ops.convert_to_tensor(np.arange(5000, dtype="int32"))
    a = ops.convert_to_numpy(stateless_uniform(seeds, ops.convert_to_tensor(3), 2))
    assert a.shape == (5000, 2) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() < 1.0
    assert stats.kstest(a.reshape(-1), "uniform").pvalue > 1e-3
    # Another step gives other draws; a seed gives its draws in any batch.
    b = ops.convert_to_numpy(stateless_uniform(seeds, ops.convert_to_tensor(4), 2))
    assert abs(np.corrcoef(a[:, 0], b[:, 0])[0, 1]) < 0.1
    one = stateless_uniform(ops.convert_to_tensor(np.array([7], "int32")), ops.convert_to_tensor(3), 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(one)[0], a[7])
