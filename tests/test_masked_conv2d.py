import numpy as np
import pytest

from keras_ar.layers.gated_block import GatedBlock
from keras_ar.layers.masked_conv2d import MaskedConv2D
from keras_ar.layers.pixelcnn_residual_block import PixelCNNResidualBlock
from keras_ar.masks import pixelcnn_mask
from tests.helpers import dependency_mask, run_layer_test, to_numpy


@pytest.mark.parametrize(
    "kwargs, channels",
    [
        ({"filters": 4, "kernel_size": 3, "mask_type": "A"}, 1),
        ({"filters": 6, "kernel_size": (5, 3), "mask_type": "B", "activation": "relu"}, 2),
        ({"filters": 6, "kernel_size": 3, "mask_type": "A", "color_channels": 3}, 3),
    ],
)
def test_masked_conv2d_layer(kwargs, channels, tmp_path):
    x = np.random.rand(2, 5, 6, channels).astype("float32")
    run_layer_test(MaskedConv2D, kwargs, x, (2, 5, 6, kwargs["filters"]), tmp_path=tmp_path)


def test_residual_block_layer(tmp_path):
    x = np.random.rand(2, 4, 4, 6).astype("float32")
    run_layer_test(
        PixelCNNResidualBlock, {"filters": 6, "color_channels": 3}, x, (2, 4, 4, 6), tmp_path=tmp_path
    )


def _raster(h, w):
    return np.arange(h * w).reshape(h, w)


def _random_layer(layer, shape):
    layer.build(shape)
    rng = np.random.default_rng(0)
    for w in layer.weights:
        w.assign(rng.normal(size=tuple(w.shape)).astype("float32"))
    return layer


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_grayscale_causality(mask_type):
    h, w = 4, 5
    layer = _random_layer(MaskedConv2D(3, 3, mask_type=mask_type), (1, h, w, 1))
    dep = dependency_mask(lambda v: to_numpy(layer(v)), np.random.rand(1, h, w, 1).astype("float32"))
    dep = dep.reshape(h * w, h * w, 3).any(-1)  # [input pixel, output pixel]
    order = _raster(h, w).reshape(-1)
    for i in range(h * w):
        for o in range(h * w):
            allowed = order[i] < order[o] if mask_type == "A" else order[i] <= order[o]
            if dep[i, o]:
                assert allowed, (mask_type, i, o)
    # And the mask is not empty: each pixel with a neighbour above/left sees it.
    assert dep[0, 1] and dep[1, w + 1] and dep[2, w + 1]  # left, up, up-right
    assert dep[0, 0] == (mask_type == "B")


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_colour_channel_groups(mask_type):
    h, w, f = 3, 3, 6
    layer = _random_layer(MaskedConv2D(f, 3, mask_type=mask_type, color_channels=3), (1, h, w, 3))
    dep = dependency_mask(lambda v: to_numpy(layer(v)), np.random.rand(1, h, w, 3).astype("float32"))
    dep = dep.reshape(h * w, 3, h * w, f)
    centre = 4  # pixel (1, 1)
    out_group = np.arange(f) // 2
    for c_in in range(3):
        for o in range(f):
            allowed = c_in < out_group[o] if mask_type == "A" else c_in <= out_group[o]
            assert dep[centre, c_in, centre, o] == allowed
    # Earlier pixels are seen by every group, later pixels by none.
    assert dep[centre - 1, :, centre, :].all()
    assert not dep[centre + 1, :, centre, :].any()


def test_call_at_matches_full_call():
    h, w = 4, 5
    layer = _random_layer(MaskedConv2D(4, (5, 3), mask_type="B", color_channels=2), (2, h, w, 2))
    x = np.random.rand(2, h, w, 2).astype("float32")
    full = to_numpy(layer(x))
    cache = layer.init_cache(2, h, w, 2)
    for r in range(h):
        for c in range(w):
            cache = layer.write_cache(cache, x[:, r, c], r, c)
    for r in range(h):
        for c in range(w):
            np.testing.assert_allclose(to_numpy(layer.call_at(cache, r, c)), full[:, r, c], atol=1e-5)


def test_pixel_step_follows_new_weights():
    """The step's kernel is made once per set of weights (cached on eager
    PyTorch, `keras_ar.backend.constants.derived`): after `assign` (as
    training or `load_weights` do) the step must use the new weights. Each
    pass is one sampling call (`weights_fixed`, inside which the weights
    are checked once), so a later call sees the new weights."""
    from keras_ar.backend import no_grad
    from keras_ar.backend.constants import weights_fixed

    rng = np.random.default_rng(1)
    layer = MaskedConv2D(3, 3, mask_type="B", activation="relu")
    x = rng.normal(size=(2, 4, 4, 2)).astype("float32")
    layer(x)
    patch = x[:, 1:3, 1:4]  # the centre row and the row above it, at (2, 2)
    for _ in range(2):
        with no_grad(), weights_fixed():
            step = to_numpy(layer.call_patch(patch))
            again = to_numpy(layer.call_patch(patch))  # the kept matrices
        np.testing.assert_allclose(step, to_numpy(layer(x))[:, 2, 2], atol=1e-5)
        np.testing.assert_array_equal(again, step)
        layer.kernel.assign(rng.normal(size=layer.kernel.shape).astype("float32"))
        layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32"))


def test_mask_values():
    mask = pixelcnn_mask((3, 3), 1, 1, "A")[..., 0, 0]
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    mask = pixelcnn_mask((3, 3), 1, 1, "B")[..., 0, 0]
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 4, "kernel_size": 4}, "kernel_size"),
        ({"filters": 4, "kernel_size": 3, "mask_type": "C"}, "mask_type"),
        ({"filters": 4, "kernel_size": 3, "color_channels": 3}, "filters"),
        ({"filters": 0, "kernel_size": 3}, "filters"),
        ({"filters": 4, "kernel_size": (3, 3, 3)}, "kernel_size"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaskedConv2D(**kwargs)


def test_bad_input_rank():
    with pytest.raises(ValueError, match="rank 4"):
        MaskedConv2D(4, 3)(np.zeros((2, 5, 5), "float32"))
    with pytest.raises(ValueError, match="channels"):
        PixelCNNResidualBlock(8)(np.zeros((1, 4, 4, 6), "float32"))


def test_weight_arguments_take_effect_and_unknown_ones_are_refused():
    # The weight arguments come from the shared `WeightedLayer` base: they
    # must reach the weights, survive the config, and a layer that does not
    # take one must refuse it by name rather than ignore it.
    layer = MaskedConv2D(
        4, 3, use_bias=False, kernel_initializer="ones", kernel_regularizer="l2"
    )
    clone = MaskedConv2D.from_config(layer.get_config())
    for each in (layer, clone):
        each(np.ones((1, 3, 3, 1), "float32"))
        assert each.bias is None
        np.testing.assert_array_equal(to_numpy(each.kernel), 1.0)
        assert len(each.losses) == 1 and float(to_numpy(each.losses[0])) > 0
    with pytest.raises(TypeError, match="use_bias"):
        MaskedConv2D(4, 3, use_bias="no")
    with pytest.raises(ValueError, match="kernel_regularizer"):
        GatedBlock(4, kernel_regularizer="l2")
