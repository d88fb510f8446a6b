"""Discretized logistic mixture (PixelCNN++): likelihood, bin masses, sampler."""

import numpy as np
import pytest
from keras import ops
from scipy import special, stats

from keras_ar.ops.discretized_logistic import (
    discretized_logistic_mixture_log_prob,
    discretized_logistic_mixture_probs,
    num_params,
    sample_discretized_logistic_mixture,
)
from tests.helpers import only_on, take_turns, to_numpy


def paper_log_prob(x, params, levels, k, c):
    """The paper's formula, straight, in float64 (NumPy / SciPy)."""
    params = params.astype(np.float64)
    lead = params.shape[:-1]
    logits = params[..., :k]
    means = params[..., k : k + c * k].reshape(lead + (c, k))
    log_s = np.maximum(
        params[..., k + c * k : k + 2 * c * k].reshape(lead + (c, k)), -7
    )
    coeffs = np.tanh(params[..., k + 2 * c * k :].reshape(lead + (c * (c - 1) // 2, k)))
    xs = 2.0 * x / (levels - 1) - 1.0
    out = logits - special.logsumexp(logits, axis=-1, keepdims=True)
    for ch in range(c):
        mean = means[..., ch, :].copy()
        for j in range(ch):
            mean = mean + coeffs[..., ch * (ch - 1) // 2 + j, :] * xs[..., j : j + 1]
        centered = xs[..., ch : ch + 1] - mean
        inv_s = np.exp(-log_s[..., ch, :])
        plus_in = inv_s * (centered + 1.0 / (levels - 1))
        min_in = inv_s * (centered - 1.0 / (levels - 1))
        cdf_delta = special.expit(plus_in) - special.expit(min_in)
        mid_in = inv_s * centered
        log_pdf_mid = mid_in - log_s[..., ch, :] - 2.0 * np.logaddexp(0, mid_in)
        xc = x[..., ch : ch + 1]
        value = np.where(
            xc == 0,
            special.log_expit(plus_in),
            np.where(
                xc == levels - 1,
                special.log_expit(-min_in),
                np.where(
                    cdf_delta > 1e-5,
                    np.log(np.maximum(cdf_delta, 1e-12)),
                    log_pdf_mid - np.log((levels - 1) / 2.0),
                ),
            ),
        )
        out = out + value
    return special.logsumexp(out, axis=-1)


def random_params(rng, n, k, c, spread=1.0):
    return rng.normal(0.0, spread, size=(n, num_params(k, c))).astype("float32")


def extreme_params(rng, n, k, c):
    """Huge and tiny scales (below the clamp too), means far outside [-1, 1]
    and near-deterministic mixture weights."""
    params = random_params(rng, n, k, c)
    means = rng.choice(
        [-1e4, -50.0, -3.0, -1.0, -0.999, 0.0, 0.37, 1.0, 3.0, 50.0, 1e4],
        size=(n, c * k),
    )
    log_scales = rng.choice(
        [-40.0, -7.0, -5.0, -1.0, 0.0, 5.0, 15.0, 40.0], size=(n, c * k)
    )
    params[:, k : k + c * k] = means
    params[:, k + c * k : k + 2 * c * k] = log_scales
    params[:, :k] *= 30.0
    params[:, k + 2 * c * k :] *= 10.0
    return params


def test_num_params_layout():
    assert num_params(5, 1) == 15  # 3K
    assert num_params(10, 3) == 100  # 10K, the paper's CIFAR head
    assert num_params(2, 2) == 2 * (1 + 4 + 1)


@pytest.mark.parametrize(
    "channels, levels, k", [(1, 256, 5), (3, 256, 4), (1, 2, 3), (2, 7, 3)]
)
def test_log_prob_matches_paper_formula(channels, levels, k):
    rng = np.random.default_rng(channels * 100 + levels)
    params = random_params(rng, 400, k, channels, spread=1.5)
    x = rng.integers(0, levels, size=(400, channels))
    # Make sure both edge bins are exercised.
    x[:20] = 0
    x[20:40] = levels - 1
    got = ops.convert_to_numpy(
        discretized_logistic_mixture_log_prob(x, params, levels, k, channels)
    )
    assert got.shape == (400,) and got.dtype == np.float32
    np.testing.assert_allclose(
        got, paper_log_prob(x, params, levels, k, channels), atol=1e-4, rtol=1e-5
    )


@pytest.mark.parametrize("channels, levels", [(1, 256), (3, 8)])
@pytest.mark.parametrize("kind", ["random", "extreme"])
def test_bin_probabilities_sum_to_one(channels, levels, kind):
    rng = np.random.default_rng(levels)
    k = 3
    make = random_params if kind == "random" else extreme_params
    params = make(rng, 300, k, channels)
    probs = ops.convert_to_numpy(
        discretized_logistic_mixture_probs(params, levels, k, channels)
    )
    assert probs.shape == (300, levels**channels)
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0)
    # Exact bin masses telescope to 1; the paper's pdf * width stand-in is
    # only used for bins below 1e-5. What is left is float32 rounding of a
    # bin edge (~6e-8) times the steepest logistic density, 1 / (4 e^-7) ~ 274,
    # a few 1e-5 per channel when a mean sits on a bin edge.
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=2e-4)
    if kind == "random":
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("channels, levels", [(1, 256), (3, 16)])
def test_extreme_params_are_finite(channels, levels):
    rng = np.random.default_rng(7)
    k = 4
    params = extreme_params(rng, 500, k, channels)
    x = rng.integers(0, levels, size=(500, channels))
    log_p = ops.convert_to_numpy(
        discretized_logistic_mixture_log_prob(x, params, levels, k, channels)
    )
    assert np.all(np.isfinite(log_p)) and np.all(log_p <= 1e-5)
    u = rng.random((500, channels + 1)).astype("float32")
    u[:5] = 0.0  # the edges of [0, 1) must not give NaN / out-of-range bins
    u[5:10] = np.float32(1.0 - 2**-24)
    for temperature in (1.0, 0.01, 5.0):
        s = ops.convert_to_numpy(
            sample_discretized_logistic_mixture(
                params, u, levels, k, channels, temperature
            )
        )
        assert s.dtype == np.int32 and s.min() >= 0 and s.max() < levels


def _chi_square(samples, probs, levels, channels):
    index = np.zeros(len(samples), "int64")
    for c in range(channels):
        index = index * levels + samples[:, c]
    counts = np.bincount(index, minlength=levels**channels)
    expected = probs / probs.sum() * len(samples)
    keep = expected >= 5
    obs = np.append(counts[keep], counts[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] < 5:  # fold a small remainder into the largest cell
        big = np.argmax(exp[:-1])
        obs[big] += obs[-1]
        exp[big] += exp[-1]
        obs, exp = obs[:-1], exp[:-1]
    assert len(exp) >= 3
    assert counts[expected < 1e-9].sum() == 0, "a sample fell in an impossible bin"
    return stats.chisquare(obs, exp).pvalue


@pytest.mark.parametrize(
    *take_turns(
        "channels, levels, k, temperature",
        [(1, 6, 3, 1.0), (1, 6, 3, 0.6), (3, 3, 2, 1.0), (3, 3, 2, 0.6), (2, 4, 2, 1.3)],
    )
)
def test_sampler_frequencies_match_bin_probabilities(channels, levels, k, temperature):
    rng = np.random.default_rng(levels * 10 + channels)
    params = random_params(rng, 1, k, channels, spread=1.0)[0]
    params[k + channels * k : k + 2 * channels * k] -= 1.0  # sharper logistics
    params[k + 2 * channels * k :] *= 3.0  # strong channel coupling
    n = 20000
    u = rng.random((n, channels + 1)).astype("float32")
    samples = ops.convert_to_numpy(
        sample_discretized_logistic_mixture(
            np.broadcast_to(params, (n, len(params))),
            u,
            levels,
            k,
            channels,
            temperature,
        )
    )
    probs = ops.convert_to_numpy(
        discretized_logistic_mixture_probs(params, levels, k, channels, temperature)
    ).astype(np.float64)
    assert probs.max() / probs.min() > 5  # far from uniform
    assert _chi_square(samples, probs, levels, channels) > 1e-3


def test_temperature_changes_distribution():
    rng = np.random.default_rng(3)
    params = random_params(rng, 1, 3, 1)[0]
    warm = ops.convert_to_numpy(
        discretized_logistic_mixture_probs(params, 16, 3, 1, 1.0)
    )
    cold = ops.convert_to_numpy(
        discretized_logistic_mixture_probs(params, 16, 3, 1, 0.2)
    )
    entropy = lambda p: -(p * np.log(p + 1e-30)).sum()  # noqa: E731
    assert entropy(cold) < entropy(warm)
    np.testing.assert_allclose(cold.sum(), 1.0, atol=1e-5)


def test_bad_arguments():
    params = np.zeros((2, 15), "float32")
    with pytest.raises(ValueError, match="params"):
        discretized_logistic_mixture_log_prob(np.zeros((2, 1), "int32"), params, 256, 4)
    with pytest.raises(ValueError, match="params"):
        discretized_logistic_mixture_probs(params, 4, 5, channels=3)
    with pytest.raises(ValueError, match="`x`"):
        discretized_logistic_mixture_log_prob(np.zeros((2, 3), "int32"), params, 256, 5)
    with pytest.raises(ValueError, match="uniforms"):
        sample_discretized_logistic_mixture(params, np.zeros((2, 3), "float32"), 256, 5)
    with pytest.raises(ValueError, match="levels"):
        discretized_logistic_mixture_log_prob(np.zeros((2, 1), "int32"), params, 1, 5)
    with pytest.raises(ValueError, match="num_mixtures"):
        num_params(0, 1)
    with pytest.raises(ValueError, match="temperature"):
        sample_discretized_logistic_mixture(
            params, np.zeros((2, 2), "float32"), 256, 5, temperature=0.0
        )


@only_on("torch", "step_ops is keras.ops itself on the other backends")
def test_step_ops_equal_keras_ops():
    """The sampler's torch-direct operations (`keras_ar.backend.step_ops`)
    give Keras' values to the last bit, so eager PyTorch draws the same
    samples as before; an operation it lacks is an error, not a silent
    fallback."""
    from keras import ops

    from keras_ar.backend.step_ops import step_ops

    rng = np.random.default_rng(0)
    x = ops.convert_to_tensor((rng.normal(size=(5, 7)) * 4).astype("float32"))
    labels = ops.convert_to_tensor(rng.integers(0, 4, (5,)).astype("int32"))
    o = step_ops(x)
    assert o is not ops
    pairs = [
        (o.maximum(x, -2.5), ops.maximum(x, -2.5)),
        (o.clip(x, -1.0, 2.0), ops.clip(x, -1.0, 2.0)),
        (o.one_hot(labels, 4, dtype="float32"), ops.one_hot(labels, 4, dtype="float32")),
        (o.sum(x, axis=-1), ops.sum(x, axis=-1)),
        (o.stack([x, -x], axis=-1), ops.stack([x, -x], axis=-1)),
        (o.zeros((2, 0, 3), "float32"), ops.zeros((2, 0, 3), "float32")),
        (o.cast(x, "int32"), ops.cast(x, "int32")),
        (o.reshape(x, (7, 5)), ops.reshape(x, (7, 5))),
        (o.concatenate([x, -x], axis=-1), ops.concatenate([x, -x], axis=-1)),
        (o.convert_to_tensor(np.ones(3, "float32")), ops.convert_to_tensor(np.ones(3, "float32"))),
    ]
    pairs += list(zip(o.split(x, 7, axis=-1), ops.split(x, 7, axis=-1)))
    same = ("tanh", "exp", "round", "sigmoid", "elu", "ones_like")
    pairs += [(getattr(o, f)(x), getattr(ops, f)(x)) for f in same]
    pairs += [(getattr(o, f)(ops.abs(x)), getattr(ops, f)(ops.abs(x))) for f in ("log", "log1p")]
    for mine, keras_value in pairs:
        assert mine.dtype == keras_value.dtype
        np.testing.assert_array_equal(to_numpy(mine), to_numpy(keras_value))
    with pytest.raises(AttributeError, match="step_ops"):
        _ = o.einsum
