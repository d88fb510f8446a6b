"""PixelSNAIL: the distribution, causality, cached generation, training."""

import keras
import numpy as np
import pytest

from keras_ar.models.pixel_snail import PixelSNAIL
from tests.helpers import dependency_mask, math_on_torch, take_turns, to_numpy
from tests.model_checks import (
    assert_cached_equals_uncached,
    assert_fit_and_save_load_3x3,
    assert_normalized_and_sampled,
    redraw_weights,
)


def tiny(image_shape, levels, distribution, scale=0.5, seed=0, **kwargs):
    config = dict(
        num_filters=8, num_blocks=2, num_resnet=1, num_mixtures=2, key_dim=4,
        value_dim=4, dropout_rate=0.0,
    )  # fmt: skip
    config.update(kwargs)
    model = PixelSNAIL(image_shape, levels=levels, distribution=distribution, **config)
    # Far from uniform, and the attention's weights large enough to matter.
    redraw_weights([model], scale=scale, seed=seed)
    return model


@math_on_torch
def test_heads_and_defaults():
    model = tiny((4, 4, 3), 4, "auto")
    assert model.head_type == "categorical" and model.steps_per_pixel == 3
    assert model.noise_width == 1
    out = model(keras.KerasTensor((2, 4, 4, 3), dtype="int32"))
    assert tuple(out.shape) == (2, 4, 4, 3, 4)
    model = tiny((4, 4, 3), 256, "auto")
    assert model.head_type == "mixture" and model.steps_per_pixel == 1
    assert model.noise_width == 4
    assert tuple(model(keras.KerasTensor((2, 4, 4, 3), dtype="int32")).shape) == (
        2, 4, 4, 20,
    )  # fmt: skip
    config = model.get_config()
    assert config["distribution"] == "auto" and config["value_dim"] == 4
    assert PixelSNAIL.from_config(config).count_params() == model.count_params()


@math_on_torch
@pytest.mark.parametrize(
    "image_shape, levels, distribution",
    [((3, 3, 1), 4, "mixture"), ((2, 3, 3), 4, "categorical")],
)
def test_model_causality(image_shape, levels, distribution):
    """Sub-pixel (p, c) depends on pixels < p and on channels < c of p only,
    and on every earlier pixel (the attention's whole-past receptive field,
    beyond the convolutions' reach)."""
    model = tiny(image_shape, levels, distribution)
    height, width, channels = image_shape
    pixels = height * width
    x = np.random.randint(0, levels - 1, size=(1,) + image_shape)

    def fn(v):
        return to_numpy(model.predict_on_batch(v.astype("int32")))

    dep = dependency_mask(fn, x, eps=1)
    order = np.arange(pixels)
    if distribution == "mixture":
        # The mixture couples the channels of a pixel: pixels < p only.
        dep = dep.reshape(pixels, channels, pixels, -1).any(axis=(1, 3))
        np.testing.assert_array_equal(dep, order[:, None] < order[None, :])
        return
    dep = dep.reshape(pixels, channels, pixels, channels, levels).any(axis=-1)
    for p, c, q, d in np.ndindex(*dep.shape):
        assert dep[p, c, q, d] == (p < q or (p == q and c < d)), (p, c, q, d)


@math_on_torch
@pytest.mark.parametrize(*take_turns(
    "image_shape, levels, distribution, seed",
    [((2, 2, 1), 3, "mixture", 0), ((2, 2, 1), 3, "categorical", 1), ((1, 2, 3), 2, "categorical", 2)],
))  # fmt: skip
def test_normalized_and_sampled(image_shape, levels, distribution, seed):
    model = tiny(image_shape, levels, distribution, seed=seed)
    assert_normalized_and_sampled(model, image_shape, seed, cold=0.01)


@pytest.mark.parametrize(
    *take_turns(
        "image_shape, levels, distribution, with_prefix",
        [((3, 4, 1), 256, "mixture", False), ((2, 3, 3), 16, "categorical", True)],
    )
)
def test_cached_equals_uncached(image_shape, levels, distribution, with_prefix):
    # Many levels: a parameter that differed between the two paths by more
    # than float rounding would move some samples to another bin.
    model = tiny(image_shape, levels, distribution)
    # A prefix in one case only: each prefix run compiles another loop.
    a = assert_cached_equals_uncached(model, 5, prefix_rows=int(with_prefix))
    assert len(np.unique(a)) > 2


def test_fit_and_save_load(tmp_path):
    # The categorical head trains and round-trips in test_training_api (the
    # tiny model of tests/tiny_models.py).
    model = tiny((3, 3, 1), 8, "mixture", scale=0.1, dropout_rate=0.1)
    assert_fit_and_save_load_3x3(model, tmp_path)


def test_bad_arguments():
    with pytest.raises(ValueError, match="distribution"):
        PixelSNAIL((2, 2), levels=4, distribution="gaussian", num_filters=4)
    with pytest.raises(ValueError, match="num_mixtures"):
        PixelSNAIL((2, 2), levels=4, num_mixtures=0, num_filters=4)
    with pytest.raises(ValueError, match="num_filters"):
        PixelSNAIL((2, 2), levels=4, num_filters=0)
    with pytest.raises(ValueError, match="num_blocks"):
        PixelSNAIL((2, 2), levels=4, num_filters=4, num_blocks=-1)
    with pytest.raises(ValueError, match="num_heads"):
        PixelSNAIL((2, 2), levels=4, num_filters=4, num_heads=0)
    with pytest.raises(ValueError, match="key_dim"):
        PixelSNAIL((2, 2), levels=4, num_filters=4, key_dim=0)
    with pytest.raises(ValueError, match="dropout_rate"):
        PixelSNAIL((2, 2), levels=4, num_filters=4, dropout_rate=1.0)
    with pytest.raises(ValueError, match="image_shape"):
        PixelSNAIL((2,), levels=4, num_filters=4)
    model = tiny((2, 2, 1), 4, "categorical", num_blocks=1)
    with pytest.raises(ValueError, match="values must be in"):
        model.log_prob(np.full((1, 2, 2, 1), 4))
    with pytest.raises(ValueError, match="integers"):
        model.log_prob(np.zeros((1, 2, 2, 1), "float32"))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((1, 2, 3, 1), "int32"))
    with pytest.raises(ValueError, match="prefix"):
        model.generate(num_samples=2, prefix=np.zeros((2, 1, 3, 1), "int32"))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(num_samples=2, temperature=0.0)
