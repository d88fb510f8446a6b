"""PixelRNN (both kinds): a proper distribution that generation samples,
causality per sub-pixel, cached == uncached generation, fit, save/load."""

import numpy as np
import pytest

from keras_ar.models.pixel_rnn import PixelRNN
from tests.helpers import (
    dependency_mask,
    math_on_torch,
    not_on,
    only_on,
    take_turns,
    to_numpy,
)
from tests.model_checks import (
    assert_cached_equals_uncached,
    assert_fit_lowers_loss,
    assert_normalized_and_sampled,
    assert_rejects_bad_images,
    assert_save_load_log_prob,
    redraw_weights,
    stripes,
)

KINDS = ["row_lstm", "diagonal_bilstm"]


def tiny(kind, image_shape=(2, 2, 1), levels=3, redraw=1.5, **kwargs):
    config = dict(kind=kind, num_layers=2, hidden_dim=6, stem_kernel_size=3)
    config.update(kwargs)
    model = PixelRNN(image_shape, levels=levels, **config)
    if redraw:
        # Far from uniform. (Not for the causality checks: large stem
        # weights saturate the LSTM gates, and a saturated gate hides a
        # dependency from a finite-difference test.)
        redraw_weights([model.logits_conv, model.input_conv], scale=redraw)
    return model


# Grayscale and colour (the RGB groups order the sub-pixels), each kind.
@math_on_torch
@pytest.mark.parametrize(
    *take_turns(
        "kind, image_shape, levels",
        [(kind, shape, levels) for shape, levels in (((2, 2, 1), 3), ((1, 2, 3), 2)) for kind in KINDS],
    )
)  # fmt: skip
def test_normalized_and_sampled(kind, image_shape, levels):
    assert_normalized_and_sampled(tiny(kind, image_shape, levels), image_shape, 0)


def _sub_pixel_dependencies(model, image_shape):
    levels = model.levels
    x = np.random.default_rng(0).integers(0, levels, size=(1,) + image_shape)

    def fn(v):
        return to_numpy(model(np.mod(v, levels).astype("int32")))

    n = int(np.prod(image_shape))
    # Perturb by one level (mod levels): [input sub-pixel, output sub-pixel].
    return (
        dependency_mask(fn, x.astype("float32"), eps=1.0).reshape(n, n, levels).any(-1)
    )


@math_on_torch
@pytest.mark.parametrize("kind", KINDS)
def test_causality_per_sub_pixel(kind):
    model = tiny(kind, (2, 2, 3), levels=3, redraw=False)
    dep = _sub_pixel_dependencies(model, (2, 2, 3))
    order = np.arange(12)  # raster order, channels innermost = generation order
    allowed = order[:, None] < order[None, :]
    assert not (dep & ~allowed).any(), "an output sees a sub-pixel at or after it"
    # R -> G -> B within a pixel, and the previous pixel's channels.
    assert dep[0, 1] and dep[1, 2] and dep[0, 2] and dep[2, 3] and dep[0, 11]
    assert dep[:, 1:].any(axis=0).all()


@math_on_torch
def test_receptive_fields_of_the_two_kinds():
    # A 2 x 4 image. The Row LSTM's pixel (1, 0) sees row 0 up to column 1
    # (its triangle, and the 3x3 stem); the Diagonal BiLSTM's sees column 2
    # too, through the right-to-left direction of row 0 (column 3 only
    # reaches row 0 through the mask-"A" stem of a later pixel), and its
    # last pixel sees everything before it.
    shape = (2, 4, 1)
    diagonal = _sub_pixel_dependencies(
        tiny("diagonal_bilstm", shape, redraw=False), shape
    )
    row = _sub_pixel_dependencies(tiny("row_lstm", shape, redraw=False), shape)
    order = np.arange(8)
    for dep in (row, diagonal):
        assert not (dep & ~(order[:, None] < order[None, :])).any()
    assert row[[0, 1], 4].all() and not row[[2, 3], 4].any()
    assert diagonal[[0, 1, 2], 4].all()
    np.testing.assert_array_equal(diagonal[:, 7], order < 7)


# Colour on PyTorch only: the RGB groups are the masks' math; the compiled
# loop of each kind runs on the grey cases (test time).
_COLOUR = only_on("torch", "colour: the same loop as grey, the masks' math on PyTorch")


@pytest.mark.parametrize(
    *take_turns(
        "kind, image_shape, levels",
        [(kind, (3, 4, 1), 4) for kind in KINDS]
        + [pytest.param(kind, (2, 3, 3), 3, marks=_COLOUR) for kind in KINDS],
    )
)  # fmt: skip
def test_cached_equals_uncached(kind, image_shape, levels):
    # Less peaked than `tiny`'s default: at scale 1.5, JAX's initial LSTM
    # weights made a colour Diagonal BiLSTM draw one image with probability
    # 0.74, the same for every seed.
    assert_cached_equals_uncached(tiny(kind, image_shape, levels, redraw=1.0), 6)


@pytest.mark.parametrize(
    "kind",
    [
        "row_lstm",
        pytest.param(
            "diagonal_bilstm",
            marks=not_on("jax", "test budget: the Row LSTM's fit covers JAX's"),
        ),
    ],
)
def test_fit_and_save_load(kind, tmp_path):
    model = PixelRNN((4, 4, 1), levels=4, kind=kind, num_layers=1, hidden_dim=8)
    x = stripes(np.random.default_rng(0))
    assert_fit_lowers_loss(model, x)
    assert_save_load_log_prob(model, x[:8], tmp_path)


@only_on("torch", "config only: the same Python on every backend; building costs on JAX")
def test_defaults_follow_the_paper():
    model = PixelRNN((2, 2, 3), levels=4, num_layers=1)
    # h = 128, rounded up to a multiple of 3 colour groups.
    assert model.hidden_dim == 129 and model.get_config()["hidden_dim"] == 129
    assert PixelRNN((2, 2), levels=4, num_layers=1).hidden_dim == 128
    config = PixelRNN.__init__.__defaults__
    assert config[:3] == (256, "row_lstm", 12)


def test_bad_arguments():
    model = tiny("row_lstm", (2, 2, 1), levels=3)
    assert_rejects_bad_images(model, 3)


@pytest.mark.parametrize(
    "image_shape, kwargs, error, match",
    [
        ((2, 2), dict(kind="lstm"), ValueError, "kind"),
        ((2, 2, 3), dict(hidden_dim=8), ValueError, "hidden_dim"),
        ((2, 2), dict(num_layers=0), ValueError, "num_layers"),
        ((2, 2), dict(kernel_size=4), ValueError, "kernel_size"),
        ((2, 2), dict(hidden_dim=8.0), TypeError, "hidden_dim"),
    ],
)
def test_bad_constructor_arguments(image_shape, kwargs, error, match):
    with pytest.raises(error, match=match):
        PixelRNN(image_shape, levels=3, **kwargs)
