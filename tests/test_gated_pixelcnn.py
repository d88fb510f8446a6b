import inspect

import numpy as np
import pytest

from keras_ar.models.gated_pixelcnn import GatedPixelCNN
from tests.helpers import math_on_torch, to_numpy
from tests.model_checks import (
    all_inputs,
    assert_fit_lowers_loss,
    assert_normalized,
    assert_samples_follow,
    assert_save_load_log_prob,
    redraw_weights,
)

TINY = dict(filters=6, num_layers=2, kernel_size=3, first_kernel_size=3, head_units=6)


def _model(image_shape, levels, num_classes=None, scale=1.5, seed=0, **kwargs):
    model = GatedPixelCNN(
        image_shape, levels=levels, num_classes=num_classes, **{**TINY, **kwargs}
    )
    # Far from uniform: large random weights in the gated blocks and the head.
    redraw_weights(model.blocks, scale=0.7, seed=seed)
    redraw_weights([model.head, model.logits_conv], scale=scale, seed=seed + 1)
    return model


@math_on_torch
def test_normalized_grayscale_and_samples_follow_log_prob():
    model = _model((2, 2, 1), levels=3)
    x, probs = assert_normalized(model, (2, 2, 1))  # 81 images
    samples = model.generate(4000, seed=0)
    assert samples.shape == (4000, 2, 2, 1) and samples.dtype == np.int32
    assert_samples_follow(samples, x, probs)
    # The reference path draws the very same samples.
    np.testing.assert_array_equal(
        samples, model.generate(4000, seed=0, use_cache=False)
    )


@math_on_torch
def test_normalized_colour_per_label_and_labels_matter():
    model = _model((1, 2, 3), levels=2, num_classes=2)
    # 64 colour images per label.
    per_label = [assert_normalized(model, (1, 2, 3), labels=k)[1] for k in range(2)]
    assert np.abs(per_label[0] - per_label[1]).max() > 1e-2


def test_cached_generation_equals_reference_grayscale_with_prefix():
    model = _model((3, 4, 1), levels=3)
    a = model.generate(6, seed=1)
    b = model.generate(6, seed=1, use_cache=False)
    np.testing.assert_array_equal(a, b)
    # Boundaries: first row, first column and last pixel are all sampled.
    assert len(np.unique(a[:, -1, -1])) > 1 and len(np.unique(a[:, 0, 0])) > 1
    prefix = a[:1, :2]
    c = model.generate(6, seed=2, prefix=prefix)
    d = model.generate(6, seed=2, prefix=prefix, use_cache=False)
    np.testing.assert_array_equal(c, d)
    np.testing.assert_array_equal(c[:, :2], np.repeat(prefix, 6, axis=0))


def test_cached_generation_equals_reference_colour_conditional_with_prefix():
    model = _model((3, 3, 3), levels=3, num_classes=2)
    labels = np.array([0, 1, 0, 1, 1])
    a = model.generate(5, seed=3, labels=labels)
    b = model.generate(5, seed=3, labels=labels, use_cache=False)
    np.testing.assert_array_equal(a, b)
    prefix = a[:, :1]
    c = model.generate(5, seed=4, labels=labels, prefix=prefix)
    d = model.generate(5, seed=4, labels=labels, prefix=prefix, use_cache=False)
    np.testing.assert_array_equal(c, d)
    np.testing.assert_array_equal(c[:, :1], prefix)
    # Labels steer the samples: same noise, other labels, other images.
    e = model.generate(5, seed=3, labels=1 - labels)
    assert not np.array_equal(a, e)


def test_fit_lowers_loss_and_save_load(tmp_path):
    rng = np.random.default_rng(0)
    model = GatedPixelCNN((4, 4), levels=3, num_classes=2, **TINY)
    labels = rng.integers(0, 2, size=(32,)).astype("int32")
    # Class 0: dark images, class 1: bright ones.
    x = rng.integers(0, 2, size=(32, 4, 4, 1)) + labels[:, None, None, None]
    data = {"inputs": x.astype("int32"), "labels": labels}
    assert_fit_lowers_loss(model, data, epochs=4, batch_size=16, lr=2e-2)
    assert_save_load_log_prob(model, x, tmp_path, labels=labels)


def test_config_round_trip():
    model = GatedPixelCNN((3, 3, 3), levels=3, num_classes=2, **TINY)
    config = model.get_config()
    for key in (
        "image_shape", "levels", "num_classes", "filters", "num_layers",
        "kernel_size", "first_kernel_size", "head_units",
    ):  # fmt: skip
        assert key in config
    clone = GatedPixelCNN.from_config(config)
    assert clone.get_config() == config
    assert len(clone.blocks) == 2 and clone.blocks[0].mask_type == "A"
    assert clone.blocks[0].kernel_size == 3 and clone.blocks[1].mask_type == "B"
    assert tuple(clone.logits_conv.kernel.shape) == (1, 1, 6, 9)


@math_on_torch
def test_defaults():
    defaults = {
        name: p.default
        for name, p in inspect.signature(GatedPixelCNN).parameters.items()
    }
    assert defaults["filters"] == 96 and defaults["num_layers"] == 7
    assert defaults["first_kernel_size"] == 7 and defaults["kernel_size"] == 3
    assert defaults["levels"] == 256
    # The default width suits colour images (a multiple of 3).
    model = GatedPixelCNN((1, 2, 3), levels=4, num_layers=2)
    assert model.blocks[0].kernel_size == 7 and model.blocks[1].filters == 96
    logits = model(np.zeros((1, 1, 2, 3), "int32"))
    assert tuple(logits.shape) == (1, 1, 2, 3, 4)


def test_bad_inputs():
    plain = GatedPixelCNN((2, 2), levels=3, **TINY)
    cond = GatedPixelCNN((2, 2), levels=3, num_classes=2, **TINY)
    x = all_inputs((2, 2, 1), 3)[:4]
    with pytest.raises(ValueError, match="labels"):
        cond.log_prob(x)
    with pytest.raises(ValueError, match="labels"):
        cond.log_prob(x, labels=[0, 1, 2, 0])
    with pytest.raises(ValueError, match="labels"):
        plain.log_prob(x, labels=[0, 1, 0, 1])
    with pytest.raises(ValueError, match="labels"):
        cond.generate(2)
    with pytest.raises(ValueError, match="labels"):
        cond({"inputs": x})
    with pytest.raises(ValueError, match="levels"):
        plain.log_prob(x + 1)
    with pytest.raises(ValueError, match="integers"):
        plain.log_prob(x.astype("float32"))
    with pytest.raises(ValueError, match="shape"):
        plain.log_prob(x[:, :1])
    with pytest.raises(ValueError, match="prefix"):
        plain.generate(2, prefix=np.zeros((1, 1, 3, 1), "int32"))


@pytest.mark.parametrize(
    "image_shape, kwargs, match",
    [
        ((2, 2, 3), dict(filters=4), "filters"),
        ((2, 2), dict(kernel_size=2), "kernel_size"),
        ((2, 2), dict(num_layers=0), "num_layers"),
        ((2, 2, 1, 1), {}, "image_shape"),
    ],
)
def test_bad_constructor_arguments(image_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatedPixelCNN(image_shape, levels=3, **kwargs)


@math_on_torch
def test_logits_causal_at_model_level():
    # Changing the last pixel moves no logits; changing the first moves the
    # logits of every later pixel (the horizontal and vertical paths).
    model = _model((3, 3, 1), levels=3, num_layers=3)
    x = np.zeros((1, 3, 3, 1), "int32")
    base = to_numpy(model(x))
    y = x.copy()
    y[0, -1, -1, 0] = 2
    np.testing.assert_allclose(to_numpy(model(y)), base, atol=1e-6)
    y = x.copy()
    y[0, 0, 0, 0] = 2
    moved = np.abs(to_numpy(model(y)) - base).max(axis=(-1, -2))[0]
    assert moved[0, 0] < 1e-6 and np.all(moved.reshape(-1)[1:] > 1e-6)
