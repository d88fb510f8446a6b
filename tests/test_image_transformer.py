import sys

import numpy as np
import pytest

from keras_ar.models.image_transformer import ImageTransformer
from tests import model_checks as checks
from tests.helpers import dependency_mask, math_on_torch, not_on, take_turns, to_numpy

# One small architecture for every test: fewer distinct compiled loops.
ARCH = dict(num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16)


def tiny(image_shape, levels, **kwargs):
    model = ImageTransformer(image_shape, levels=levels, **{**ARCH, **kwargs})
    # Far from uniform: large head and embedding weights.
    checks.redraw_weights([model.head, model.token_embedding], scale=1.5)
    return model


@math_on_torch
@pytest.mark.parametrize(
    *take_turns("image_shape, levels", [((2, 2, 1), 3), ((1, 2, 3), 2)])
)
def test_normalized_and_sampled(image_shape, levels):
    checks.assert_normalized_and_sampled(tiny(image_shape, levels), image_shape, seed=0)


@math_on_torch
def test_conditional_normalized_per_class_and_sampled():
    model = tiny((2, 2, 1), 2, num_classes=2)
    checks.redraw_weights([model.class_embedding], scale=2.0, seed=1)
    inputs, p0 = checks.assert_normalized(model, (2, 2, 1), labels=0)
    _, p1 = checks.assert_normalized(model, (2, 2, 1), labels=1)
    assert np.abs(p0 - p1).max() > 1e-2  # the label matters
    samples = model.generate(num_samples=3000, labels=1, seed=2)
    checks.assert_samples_follow(samples, inputs, p1)


@math_on_torch
def test_model_causality_per_sub_pixel():
    model = tiny((2, 2, 3), 4)
    x = np.random.default_rng(0).integers(0, 4, size=(1, 2, 2, 3))

    def fn(v):
        return to_numpy(model(np.mod(v, 4).astype("int32")))

    dep = dependency_mask(fn, x.astype("float32"), eps=1.0)
    dep = dep.reshape(12, 12, 4).any(-1)  # [input sub-pixel, output sub-pixel]
    order = np.arange(12)  # raster order, channels innermost
    allowed = order[:, None] < order[None, :]
    assert not (dep & ~allowed).any(), "an output sees a sub-pixel at or after it"
    # Attention reaches every earlier sub-pixel.
    assert dep[allowed].all()


@pytest.mark.parametrize(*take_turns("conditional", [False, True]))
def test_cached_equals_uncached(conditional):
    model = tiny((3, 2, 2), 4, num_classes=2 if conditional else None)
    labels = {"labels": [0, 1, 1, 0, 1, 0]} if conditional else {}
    # Completing the bottom of images: the cached path fills its cache with
    # the prefix in one pass, and matches the reference path.
    a = checks.assert_cached_equals_uncached(model, 6, prefix_rows=2, **labels)
    prefix = a[:, :2]
    # A one-image prefix is broadcast to every sample.
    e = model.generate(num_samples=6, seed=9, prefix=prefix[0], **labels)
    np.testing.assert_array_equal(e[:, :2], np.broadcast_to(prefix[:1], (6, 2, 2, 2)))


@math_on_torch
def test_temperature_sharpens():
    model = tiny((2, 2, 1), 3)
    warm = model.generate(num_samples=200, seed=3)
    cold = model.generate(num_samples=200, seed=3, temperature=1e-3)

    def distinct(samples):
        return len(np.unique(samples.reshape(len(samples), -1), axis=0))

    # Near zero temperature every step takes its argmax (a near-tie of two
    # logits may still split), where at temperature 1 the samples vary.
    assert distinct(cold) <= 2 and distinct(warm) >= 5


@not_on("jax", "test budget: on JAX test_bad_inputs.py trains it after bad data")
def test_fit_and_save_load(tmp_path):
    model = ImageTransformer((3, 3, 1), levels=4, dropout=0.1, **ARCH)
    rng = np.random.default_rng(0)
    # Vertical stripes: learnable from the row above.
    x = np.tile(rng.integers(0, 4, size=(64, 1, 3, 1)), (1, 3, 1, 1)).astype("int32")
    checks.assert_fit_lowers_loss(model, x, epochs=5)
    loaded = checks.assert_save_load_log_prob(model, x[:8], tmp_path)
    np.testing.assert_array_equal(
        loaded.generate(num_samples=4, seed=1), model.generate(num_samples=4, seed=1)
    )


def test_bad_inputs(monkeypatch):
    model = tiny((2, 2, 1), 3)
    checks.assert_rejects_bad_images(model, 3)
    with pytest.raises(ValueError, match="prefix"):
        model.generate(num_samples=2, prefix=np.full((2, 1, 2, 1), 5))
    with pytest.raises(ValueError, match="labels"):
        model.generate(labels=[0])
    with pytest.raises(ValueError, match="multiple of `num_heads`"):
        ImageTransformer((2, 2), levels=3, num_heads=3, hidden_dim=8)
    with pytest.raises(ValueError, match="dropout"):
        ImageTransformer((2, 2), levels=3, dropout=-0.1, **ARCH)
    with pytest.raises(TypeError, match="num_layers"):
        ImageTransformer((2, 2), levels=3, num_layers="2")
    with pytest.raises(ValueError, match="image_shape"):
        ImageTransformer((2,), levels=3)
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    with pytest.raises(ImportError, match="ImageTransformer.*text"):
        ImageTransformer((2, 2), levels=3, **ARCH)
