"""RowLSTM and DiagonalBiLSTM: shapes, serialization, training, receptive
fields measured numerically, and the one-pixel cached path."""

import numpy as np
import pytest

from keras_ar.layers.diagonal_bilstm import DiagonalBiLSTM
from keras_ar.layers.row_lstm import RowLSTM
from keras_ar.ops.pixel_lstm import skew, unskew
from tests.helpers import dependency_mask, run_layer_test, take_turns, to_numpy


@pytest.mark.parametrize(
    *take_turns(
        "cls, kwargs, features",
        [
            (RowLSTM, {"units": 4}, 2),
            (DiagonalBiLSTM, {"units": 4, "unit_forget_bias": False}, 2),
            (RowLSTM, {"units": 6, "kernel_size": 5, "color_channels": 3, "mask_type": "A"}, 3),
            (DiagonalBiLSTM, {"units": 6, "color_channels": 3}, 6),
        ],
    )
)
def test_layer(cls, kwargs, features, tmp_path):
    x = np.random.rand(2, 3, 4, features).astype("float32")
    run_layer_test(cls, kwargs, x, (2, 3, 4, kwargs["units"]), tmp_path=tmp_path)


def _random_layer(layer, shape, scale=1.0):
    layer.build(shape)
    rng = np.random.default_rng(0)
    for w in layer.weights:
        w.assign(rng.normal(0.0, scale, size=tuple(w.shape)).astype("float32"))
    return layer


def _pixel_dependencies(layer, h, w, features):
    """dep[input pixel, input feature, output pixel, output feature]."""
    x = np.random.default_rng(1).normal(size=(1, h, w, features)).astype("float32")
    dep = dependency_mask(lambda v: to_numpy(layer(v)), x)
    return dep.reshape(h * w, features, h * w, -1)


def _allowed_row_lstm(h, w, k):
    """The Row LSTM's triangle: pixel (r, c) sees row r from column
    c - k//2 to c (the masked row convolution), and row r - d (d >= 1) from
    column c - (d + 1) * (k//2) to c + d * (k//2) (d state-to-state steps)."""
    p = k // 2
    allowed = np.zeros((h * w, h * w), bool)
    for r in range(h):
        for c in range(w):
            for r2 in range(r + 1):
                d = r - r2
                for c2 in range(max(c - (d + 1) * p, 0), min(c + d * p, w - 1) + 1):
                    allowed[r2 * w + c2, r * w + c] = True
    return allowed


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_row_lstm_receptive_field_is_the_triangle(kernel_size):
    h, w = 4, 6
    layer = _random_layer(RowLSTM(2, kernel_size=kernel_size), (1, h, w, 1))
    dep = _pixel_dependencies(layer, h, w, 1).any(axis=(1, 3))
    np.testing.assert_array_equal(dep, _allowed_row_lstm(h, w, kernel_size))


def test_diagonal_bilstm_sees_the_whole_past_and_no_future():
    h, w = 4, 5
    layer = _random_layer(DiagonalBiLSTM(2), (1, h, w, 1))
    dep = _pixel_dependencies(layer, h, w, 1).any(axis=(1, 3))
    order = np.arange(h * w)
    # Mask "B": every earlier pixel in raster order and the pixel itself.
    np.testing.assert_array_equal(dep, order[:, None] <= order[None, :])


@pytest.mark.parametrize("cls", [RowLSTM, DiagonalBiLSTM])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_colour_groups_at_the_pixel(cls, mask_type):
    h, w, units = 2, 3, 6
    layer = _random_layer(cls(units, mask_type=mask_type, color_channels=3), (1, h, w, 3))
    dep = _pixel_dependencies(layer, h, w, 3)
    out_group = np.arange(units) // 2
    for pixel in range(h * w):
        for c_in in range(3):
            allowed = c_in < out_group if mask_type == "A" else c_in <= out_group
            np.testing.assert_array_equal(dep[pixel, c_in, pixel], allowed)
    # Every group of an earlier pixel is seen by every group (left, above);
    # under mask "A" the last input group is read by no one at its pixel,
    # so nowhere.
    seen = slice(None) if mask_type == "B" else slice(0, 2)
    assert dep[0, seen, 1].all() and dep[0, seen, w].all() and dep[1, seen, w + 1].all()
    # Nothing later in raster order is seen.
    for pixel in range(h * w):
        assert not dep[pixel + 1 :, :, pixel].any()


@pytest.mark.parametrize(
    *take_turns("layer", [RowLSTM(6, color_channels=3), DiagonalBiLSTM(6, color_channels=3)])
)
def test_call_at_matches_call(layer):
    h, w, features = 3, 4, 6
    _random_layer(layer, (2, h, w, features), scale=0.7)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, h, w, features)).astype("float32")
    full = to_numpy(layer(x))
    cache = layer.init_cache(2, h, w)
    for r in range(h):
        for c in range(w):
            # As in colour generation: the pixel goes through call_at with
            # a partial value first, then again with its final value.
            _, cache = layer.call_at(np.zeros_like(x[:, r, c]), cache, r, c)
            out, cache = layer.call_at(x[:, r, c], cache, r, c)
            np.testing.assert_allclose(to_numpy(out), full[:, r, c], atol=1e-5)


def test_skew_round_trip():
    x = np.arange(2 * 3 * 4 * 1, dtype="float32").reshape(2, 3, 4, 1) + 1
    skewed = to_numpy(skew(x))
    assert skewed.shape == (2, 3, 6, 1)
    for i in range(3):
        np.testing.assert_array_equal(skewed[:, i, i : i + 4], x[:, i])
        assert not skewed[:, i, :i].any() and not skewed[:, i, i + 4 :].any()
    np.testing.assert_array_equal(to_numpy(unskew(skewed, 4)), x)


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (RowLSTM, {"units": 4, "kernel_size": 4}, "kernel_size"),
        (RowLSTM, {"units": 4, "kernel_size": 1}, "kernel_size"),
        (RowLSTM, {"units": 4, "color_channels": 3}, "units"),
        (RowLSTM, {"units": 0}, "units"),
        (DiagonalBiLSTM, {"units": 4, "mask_type": "C"}, "mask_type"),
        (DiagonalBiLSTM, {"units": 5, "color_channels": 3}, "units"),
    ],
)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [RowLSTM, DiagonalBiLSTM])
def test_bad_input_rank(cls):
    with pytest.raises(ValueError, match="rank 4"):
        cls(4)(np.zeros((2, 5, 5), "float32"))
