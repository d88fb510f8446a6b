import numpy as np
import pytest

from keras_ar.models.pixelcnn import PixelCNN
from tests.helpers import dependency_mask, only_on, take_turns, to_numpy
from tests.model_checks import (
    assert_cached_equals_uncached,
    assert_fit_lowers_loss,
    assert_normalized,
    assert_normalized_and_sampled,
    assert_rejects_bad_images,
    assert_samples_follow,
    assert_save_load_log_prob,
    redraw_weights,
    stripes,
)


def tiny(image_shape=(2, 2, 1), levels=3, **kwargs):
    config = dict(filters=6, kernel_size=3, num_residual_blocks=1, num_head_layers=1)
    config.update(kwargs)
    model = PixelCNN(image_shape, levels=levels, **config)
    redraw_weights([model.logits_conv, model.input_conv], scale=1.5)
    return model


def test_grayscale_normalized_and_sampled():
    assert_normalized_and_sampled(tiny((2, 2, 1), levels=3), (2, 2, 1), seed=0)


def test_colour_normalized_and_sampled():
    model = tiny((1, 2, 3), levels=2)
    inputs, probs = assert_normalized(model, (1, 2, 3))
    assert_samples_follow(model.generate(num_samples=3000, seed=1), inputs, probs)


def test_temperature_sharpens():
    model = tiny((2, 2, 1), levels=3)
    warm = model.generate(num_samples=300, seed=3)
    cold = model.generate(num_samples=300, seed=3, temperature=0.05)
    # Near zero temperature each pixel is the per-step argmax: all samples
    # agree, where at temperature 1 they vary.
    assert (cold == cold[0]).all()
    assert not (warm == warm[0]).all()


def test_model_causality_per_sub_pixel():
    model = PixelCNN(
        (3, 3, 3), levels=4, filters=24, kernel_size=3, num_residual_blocks=2
    )
    redraw_weights([model.input_conv], scale=1.0)
    x = np.random.randint(0, 4, size=(1, 3, 3, 3))

    def fn(v):
        return model(np.mod(v, 4).astype("int32"))

    # Perturb by one level (mod levels); outputs are logits (1, 3, 3, 3, levels).
    dep = dependency_mask(lambda v: to_numpy(fn(v)), x.astype("float32"), eps=1.0)
    dep = dep.reshape(27, 27, 4).any(-1)  # [input sub-pixel, output sub-pixel]
    order = np.arange(27)  # raster order, channels innermost = generation order
    allowed = order[:, None] < order[None, :]
    assert not (dep & ~allowed).any(), "an output sees a sub-pixel at or after it"
    assert dep[0, 1] and dep[1, 2] and dep[0, 26]
    # Every sub-pixel but the first depends on some earlier one.
    assert dep[:, 1:].any(axis=0).all()


@pytest.mark.parametrize(
    *take_turns("image_shape, levels", [((3, 4, 1), 4), ((2, 3, 3), 3)])
)
def test_cached_equals_uncached(image_shape, levels):
    model = tiny(image_shape, levels=levels, num_residual_blocks=2)
    a = assert_cached_equals_uncached(model, 6)
    # The same seed gives the same samples (another seed does not: above).
    np.testing.assert_array_equal(a, model.generate(num_samples=6, seed=7))


@only_on("torch", "test time: its compiled fit runs in test_training_api.py (JAX)")
def test_fit_and_save_load(tmp_path):
    model = PixelCNN((4, 4, 1), levels=4, filters=8, num_residual_blocks=1)
    x = stripes(np.random.default_rng(0))
    assert_fit_lowers_loss(model, x)
    assert_save_load_log_prob(model, x[:8], tmp_path)


def test_bad_inputs():
    model = tiny((2, 2, 1), levels=3)
    assert_rejects_bad_images(model, 3)
    with pytest.raises(ValueError, match="labels"):
        model.generate(labels=[0])
    with pytest.raises(ValueError, match="image_shape"):
        PixelCNN((2,), levels=3)
    with pytest.raises(ValueError, match="levels"):
        PixelCNN((2, 2), levels=1)
