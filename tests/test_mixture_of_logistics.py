"""MixtureOfLogistics: the PixelCNN++ head layer."""

import numpy as np
import pytest
from keras import ops

from keras_ar.layers.mixture_of_logistics import MixtureOfLogistics
from keras_ar.ops import discretized_logistic as dl
from tests.helpers import run_layer_test


@pytest.mark.parametrize("channels, expected", [(1, 9), (3, 30)])
def test_layer_contract(tmp_path, channels, expected):
    features = np.random.normal(size=(2, 3, 4, 5)).astype("float32")
    out = run_layer_test(
        MixtureOfLogistics,
        {"num_mixtures": 3, "levels": 16, "color_channels": channels},
        features,
        expected_output_shape=(2, 3, 4, expected),
        tmp_path=tmp_path,
    )
    assert out.shape[-1] == MixtureOfLogistics(3, 16, channels).num_params == expected


def test_methods_delegate_to_the_ops():
    head = MixtureOfLogistics(num_mixtures=2, levels=8, color_channels=3)
    params = head(np.random.normal(size=(2, 3, 3, 6)).astype("float32"))
    x = np.random.randint(0, 8, size=(2, 3, 3, 3))
    log_p = ops.convert_to_numpy(head.log_prob(x, params))
    assert log_p.shape == (2, 3, 3)
    np.testing.assert_allclose(
        log_p,
        ops.convert_to_numpy(
            dl.discretized_logistic_mixture_log_prob(x, params, 8, 2, 3)
        ),
        atol=1e-6,
    )
    probs = ops.convert_to_numpy(head.probs(params))
    assert probs.shape == (2, 3, 3, 512)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    # exp(log_prob) of x is its entry in the table of all pixel values.
    flat = x[..., 0] * 64 + x[..., 1] * 8 + x[..., 2]
    np.testing.assert_allclose(
        np.take_along_axis(probs, flat[..., None], -1)[..., 0], np.exp(log_p), rtol=1e-5
    )
    u = np.random.default_rng(0).random((2, 3, 3, 4)).astype("float32")
    s = ops.convert_to_numpy(head.sample(params, u, temperature=0.8))
    assert s.shape == (2, 3, 3, 3) and s.dtype == np.int32
    np.testing.assert_array_equal(
        s,
        ops.convert_to_numpy(
            dl.sample_discretized_logistic_mixture(params, u, 8, 2, 3, temperature=0.8)
        ),
    )


def test_log_scale_clamp():
    # Below the clamp, the log-scale has no effect (the paper's -7).
    head = MixtureOfLogistics(num_mixtures=1, levels=256, min_log_scale=-7.0)
    x = np.array([[100], [101], [0]])
    a = np.array([[0.0, -0.2, -7.0]] * 3, "float32")
    b = np.array([[0.0, -0.2, -30.0]] * 3, "float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(head.log_prob(x, a)),
        ops.convert_to_numpy(head.log_prob(x, b)),
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(levels=1), ValueError, "levels"),
        (dict(num_mixtures=0), ValueError, "num_mixtures"),
        (dict(num_mixtures=2.5), TypeError, "num_mixtures"),
        (dict(color_channels=0), ValueError, "color_channels"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MixtureOfLogistics(**kwargs)


def test_bad_arguments():
    head = MixtureOfLogistics(num_mixtures=2, levels=4, color_channels=3)
    with pytest.raises(ValueError, match="params.*20"):
        head.log_prob(np.zeros((1, 3), "int32"), np.zeros((1, 6), "float32"))
    with pytest.raises(ValueError, match="uniforms"):
        head.sample(np.zeros((1, 20), "float32"), np.zeros((1, 3), "float32"))
