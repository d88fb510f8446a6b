"""PixelCNN++: shifted convolutions and the model."""

import keras
import numpy as np
import pytest

from keras_ar.layers.shifted_conv import (
    DownRightShiftedConv2D,
    DownRightShiftedConv2DTranspose,
    DownShiftedConv2D,
    DownShiftedConv2DTranspose,
)
from keras_ar.models.pixelcnn_plus_plus import PixelCNNPlusPlus
from tests.helpers import (
    dependency_mask,
    math_on_torch,
    not_on,
    only_on,
    run_layer_test,
    take_turns,
    to_numpy,
)
from tests.model_checks import (
    assert_cached_equals_uncached,
    assert_fit_and_save_load_3x3,
    assert_normalized_and_sampled,
    redraw_weights,
)

# -- shifted convolutions ------------------------------------------------------


@only_on("torch", "a layer's contract: layers run on torch (compiled inside the model tests)")
@pytest.mark.parametrize(
    "cls, kwargs, in_hw, out_hw",
    [
        (DownShiftedConv2D, {"kernel_size": (2, 3)}, (5, 4), (5, 4)),
        (DownShiftedConv2D, {"kernel_size": (2, 3), "strides": 2}, (5, 4), (3, 2)),
        (DownRightShiftedConv2D, {"kernel_size": (2, 2)}, (5, 4), (5, 4)),
        (DownRightShiftedConv2D, {"kernel_size": (2, 2), "strides": 2}, (5, 3), (3, 2)),
        (DownShiftedConv2DTranspose, {"kernel_size": (2, 3)}, (3, 2), (6, 4)),
        (DownRightShiftedConv2DTranspose, {"kernel_size": (2, 2)}, (3, 2), (6, 4)),
    ],
)
def test_shifted_conv_layer_contract(tmp_path, cls, kwargs, in_hw, out_hw):
    x = np.random.normal(size=(2,) + in_hw + (3,)).astype("float32")
    run_layer_test(
        cls,
        {"filters": 4, **kwargs},
        x,
        expected_output_shape=(2,) + out_hw + (4,),
        tmp_path=tmp_path,
    )


def _conv_dependencies(layer, in_hw):
    x = np.random.normal(size=(1,) + in_hw + (1,)).astype("float32")
    layer(x)
    for w in layer.weights:  # random non-zero kernel and bias
        w.assign(np.random.normal(size=tuple(w.shape)).astype("float32") + 0.5)
    dep = dependency_mask(lambda v: to_numpy(layer(v)), x)
    out_hw = to_numpy(layer(x)).shape[1:3]
    return dep.reshape(in_hw + out_hw + (-1,)).any(-1)  # [r_in, c_in, r_out, c_out]


def _allowed(in_hw, out_hw, fn):
    allowed = np.zeros(in_hw + out_hw, bool)
    for idx in np.ndindex(*allowed.shape):
        allowed[idx] = fn(*idx)
    return allowed


@math_on_torch
@pytest.mark.parametrize(
    "layer, in_hw, rule",
    [
        # Output row i sees rows i-1..i, columns j-1..j+1.
        (DownShiftedConv2D(2, (2, 3)), (4, 4), lambda a, b, i, j: i - 1 <= a <= i and abs(b - j) <= 1),
        # Output (i, j) sees rows i-1..i, columns j-1..j.
        (DownRightShiftedConv2D(2, (2, 2)), (4, 4), lambda a, b, i, j: i - 1 <= a <= i and j - 1 <= b <= j),
        # Strided: the same window ending at (2i, 2j).
        (DownRightShiftedConv2D(2, (2, 2), strides=2), (4, 4), lambda a, b, i, j: 2 * i - 1 <= a <= 2 * i and 2 * j - 1 <= b <= 2 * j),
        # Upsampled (r, c) reads input (r // 2, c // 2) only.
        (DownRightShiftedConv2DTranspose(2, (2, 2)), (2, 3), lambda a, b, r, c: a == r // 2 and b == c // 2),
        # Upsampled row r reads input row r // 2, columns around c / 2.
        (DownShiftedConv2DTranspose(2, (2, 3)), (2, 3), lambda a, b, r, c: a == r // 2 and abs(2 * b - c) <= 1),
    ],
)  # fmt: skip
def test_shifted_conv_receptive_fields(layer, in_hw, rule):
    dep = _conv_dependencies(layer, in_hw)
    expected = _allowed(in_hw, dep.shape[2:], rule)
    np.testing.assert_array_equal(dep, expected)


def test_shifted_conv_bad_arguments():
    with pytest.raises(ValueError, match="odd kernel width"):
        DownShiftedConv2D(4, (2, 2))
    with pytest.raises(ValueError, match="filters"):
        DownRightShiftedConv2D(0)
    with pytest.raises(ValueError, match="kernel_size"):
        DownRightShiftedConv2D(4, (2, 0))
    with pytest.raises(ValueError, match="rank 4"):
        DownShiftedConv2D(4)(np.zeros((2, 3, 4), "float32"))


# -- the model -----------------------------------------------------------------


def tiny(image_shape, levels, num_hierarchies=2, scale=0.4, **kwargs):
    config = dict(num_mixtures=2, num_filters=8, num_resnet=1, dropout_rate=0.0)
    config.update(kwargs)
    model = PixelCNNPlusPlus(
        image_shape, levels=levels, num_hierarchies=num_hierarchies, **config
    )
    # Far from uniform: large random mixture parameters.
    redraw_weights([model.head], scale=scale)
    return model


@only_on("torch", "shapes and config only (symbolic call); building costs on TF and JAX")
def test_book_settings():
    # The TFP PixelCNN settings of the book (symbolic call: shapes only).
    model = PixelCNNPlusPlus(
        (32, 32, 1), num_mixtures=5, num_resnet=1, num_hierarchies=2,
        num_filters=32, dropout_rate=0.3,
    )  # fmt: skip
    assert model.levels == 256 and model.steps_per_pixel == 1 and model.noise_width == 2
    out = model(keras.KerasTensor((2, 32, 32, 1), dtype="int32"))
    assert tuple(out.shape) == (2, 32, 32, 15)  # 3 * num_mixtures
    assert PixelCNNPlusPlus.from_config(model.get_config()).count_params() == (
        model.count_params()
    )
    colour = PixelCNNPlusPlus((8, 8, 3), num_mixtures=10, num_filters=8, num_resnet=1)
    assert colour.noise_width == 4
    assert tuple(colour(keras.KerasTensor((1, 8, 8, 3), dtype="int32")).shape) == (
        1, 8, 8, 100,
    )  # fmt: skip


@math_on_torch
@pytest.mark.parametrize(
    "image_shape, num_hierarchies, num_resnet",
    [((3, 4, 3), 3, 1)],
)
def test_model_causality(image_shape, num_hierarchies, num_resnet):
    model = tiny(image_shape, 4, num_hierarchies, num_resnet=num_resnet)
    height, width, channels = image_shape
    x = np.random.randint(0, 3, size=(1,) + image_shape)

    def fn(v):
        # predict_on_batch: one compiled forward, reused for every perturbation.
        return to_numpy(model.predict_on_batch(v.astype("int32")))

    pixels = height * width
    dep = dependency_mask(fn, x, eps=1)  # [(pixel, channel), (pixel, param)]
    dep = dep.reshape(pixels, channels, pixels, -1).any(axis=(1, 3))
    order = np.arange(pixels)
    # Pixel p's parameters see only pixels before p, no channel of p itself
    # (the mixture couples the channels of p).
    assert not (dep & ~(order[:, None] < order[None, :])).any()
    # ...and they do see the past: the pixel to the left and the one above.
    for p in range(1, pixels):
        assert dep[p - 1, p] or p % width == 0
        assert dep[p - width, p] if p >= width else True
    assert dep[0, pixels - 1]


@math_on_torch
@pytest.mark.parametrize(
    *take_turns(
        "image_shape, levels, num_hierarchies, seed",
        [((2, 2, 1), 3, 1, 0), ((1, 2, 3), 2, 2, 1)],
    )
)
def test_normalized_and_sampled(image_shape, levels, num_hierarchies, seed):
    model = tiny(image_shape, levels, num_hierarchies)
    # Temperature: near 0, the images collapse onto few modes.
    assert_normalized_and_sampled(model, image_shape, seed, cold=0.01)


@not_on("tensorflow", "test time: one compiling backend (JAX) and PyTorch; "
        "TensorFlow compiles the same cached step in test_generation.py (in "
        "place against copies) and test_export.py (served against the model)")
def test_cached_equals_uncached():
    # Many levels: a parameter that differed between the two paths by more
    # than float rounding would move some of the samples to another bin.
    # Colour (the channel coefficients) and three hierarchies (two
    # up-samplings); a grey two-hierarchy model is checked in
    # tests/test_generation.py, with a prefix in tests/test_export.py and
    # (TensorFlow) tests/test_generation.py.
    assert_cached_equals_uncached(tiny((3, 2, 3), 256, 3), 5, prefix_rows=0)


def test_fit_and_save_load(tmp_path):
    model = tiny((3, 3, 1), 8, num_resnet=0, dropout_rate=0.1)
    assert_fit_and_save_load_3x3(model, tmp_path)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_mixtures"):
        PixelCNNPlusPlus((2, 2), levels=4, num_mixtures=0, num_filters=4)
    with pytest.raises(ValueError, match="num_filters"):
        PixelCNNPlusPlus((2, 2), levels=4, num_filters=0)
    with pytest.raises(ValueError, match="num_hierarchies"):
        PixelCNNPlusPlus((2, 2), levels=4, num_filters=4, num_hierarchies=0)
    with pytest.raises(ValueError, match="num_resnet"):
        PixelCNNPlusPlus((2, 2), levels=4, num_filters=4, num_resnet=-1)
    with pytest.raises(ValueError, match="dropout_rate"):
        PixelCNNPlusPlus((2, 2), levels=4, num_filters=4, dropout_rate=1.0)
    with pytest.raises(ValueError, match="levels"):
        PixelCNNPlusPlus((2, 2), levels=1, num_filters=4)
    with pytest.raises(ValueError, match="image_shape"):
        PixelCNNPlusPlus((2,), levels=4, num_filters=4)
    model = tiny((2, 2, 1), 4, num_hierarchies=1)
    with pytest.raises(ValueError, match="values must be in"):
        model.log_prob(np.full((1, 2, 2, 1), 4))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((1, 2, 3, 1), "int32"))
    with pytest.raises(ValueError, match="prefix"):
        model.generate(num_samples=2, prefix=np.zeros((2, 1, 3, 1), "int32"))
