"""Mixtures of discretized logistics (PixelCNN++, Salimans et al., 2017).

A pixel of `C` channels with integer values in `[0, levels)` is modelled by a
mixture of `K` components. Each value `x` is rescaled to `[-1, 1]`
(`x' = 2 x / (levels - 1) - 1`, as in the paper) and its probability under a
logistic with mean `mu` and scale `s` is the mass of its bin,

    P(x) = sigmoid((x' + 1/(levels-1) - mu) / s)
         - sigmoid((x' - 1/(levels-1) - mu) / s),

with the edge bins extended to infinity: `P(0) = sigmoid((x'_0 + h - mu)/s)`
and `P(levels - 1) = 1 - sigmoid((x'_{L-1} - h - mu) / s)`, `h = 1/(levels-1)`.
Where the CDF difference falls below 1e-5 the paper's approximation
`pdf(x') * 2h` is used instead (the paper's `log_pdf_mid - log(127.5)` for
256 levels).

For colour pixels the channels of one component are coupled linearly (the
paper's section 2.2): the mean of channel `c` is
`mu_c + sum_{j < c} tanh(alpha_{c,j}) * x'_j`, so G depends on R and B on R
and G, and the whole pixel is one joint distribution.

Parameter layout (last axis, size `num_params(K, C) = K * (1 + 2C + C(C-1)/2)`;
`3K` for grayscale and `10K` for RGB, as in the paper's code):

    [ logits (K) | means (C x K) | log_scales (C x K) | coefficients (C(C-1)/2 x K) ]

channel-major inside each block (all `K` values of channel 0 first). The
coefficients are ordered `(1, 0), (2, 0), (2, 1), ...`: for RGB, `alpha_GR`,
`alpha_BR`, `alpha_BG`. Log-scales are clamped below at `min_log_scale`
(-7 in the paper) and coefficients go through `tanh` here, so the raw output
of a linear layer is a valid parameter vector.

Sampling is by inverse CDF from uniforms given by the caller (one picks the
component, one per channel gives the logistic draw), so that two generation
paths fed the same uniforms make the same draw.
"""

import itertools
import math

import numpy as np
from keras import ops

from keras_ar.backend.step_ops import step_ops
from keras_ar.ops.categorical import sample_categorical
from keras_ar.ops.step_coder import active_coder
from keras_ar.validation import check_int, check_positive_float

#: The paper's threshold below which the bin mass is approximated by pdf * width.
MIN_CDF_DELTA = 1e-5


def num_params(num_mixtures, channels):
    """Size of the parameter vector for `num_mixtures` components over
    `channels` channels: `K * (1 + 2C + C(C-1)/2)` (3K grayscale, 10K RGB)."""
    num_mixtures = check_int("num_mixtures", num_mixtures, minimum=1)
    channels = check_int("channels", channels, minimum=1)
    return num_mixtures * (1 + 2 * channels + channels * (channels - 1) // 2)


def _check_params(params, num_mixtures, channels):
    expected = num_params(num_mixtures, channels)
    size = params.shape[-1] if len(params.shape) else None
    if size != expected:
        raise ValueError(
            f"`params` must have last dimension {expected} "
            f"(num_mixtures={num_mixtures}, channels={channels}: "
            "K * (1 + 2C + C(C-1)/2)), got shape "
            f"{tuple(params.shape)}"
        )


def split_params(params, num_mixtures, channels, temperature=1.0, min_log_scale=-7.0):
    """Unpacks a parameter vector (see the module docstring for the layout).

    Args:
        params: float tensor `(..., num_params(K, C))`.
        num_mixtures: `K`.
        channels: `C`.
        temperature: > 0; divides the logits and multiplies the scales.
        min_log_scale: lower clamp of the log-scales (the paper's -7).
    Returns:
        `(logits (..., K), means (..., C, K), log_scales (..., C, K),
        coefficients (..., C(C-1)/2, K))`, the coefficients through `tanh`
        and the log-scales clamped (and shifted by `log(temperature)`).
    """
    o = step_ops(params)
    params = o.cast(o.convert_to_tensor(params), "float32")
    _check_params(params, num_mixtures, channels)
    k, c = num_mixtures, channels
    lead = tuple(ops.shape(params)[:-1])

    def block(start, rows):
        piece = params[..., start : start + rows * k]
        return o.reshape(piece, lead + (rows, k))

    logits = params[..., :k]
    means = block(k, c)
    log_scales = o.maximum(block(k + c * k, c), min_log_scale)
    num_coeffs = c * (c - 1) // 2
    if num_coeffs:
        coeffs = o.tanh(block(k + 2 * c * k, num_coeffs))
    else:
        coeffs = o.zeros(lead + (0, k), "float32")
    if not isinstance(temperature, (int, float)) or temperature != 1.0:
        temperature = ops.cast(temperature, "float32")
        logits = logits / temperature
        log_scales = log_scales + ops.log(temperature)
    return logits, means, log_scales, coeffs


def _coefficient_index(c, j):
    """Position of alpha_{c,j} (j < c) in the coefficient block."""
    return c * (c - 1) // 2 + j


def _scale_values(x, levels):
    return step_ops(x).cast(x, "float32") * (2.0 / (levels - 1)) - 1.0


def _log_sinh(y):
    # log(sinh(y)) for y > 0 without overflow or cancellation:
    # sinh(y) = e^y (1 - e^{-2y}) / 2, and -expm1(-2y) keeps 1 - e^{-2y}
    # exact for tiny y (huge scales).
    return y + ops.log(-ops.expm1(-2.0 * y)) - math.log(2.0)


def _log_cosh(y):
    y = ops.abs(y)
    return y + ops.softplus(-2.0 * y) - math.log(2.0)


def _bin_log_prob(x, scaled, means, log_scales, levels):
    """log P(x) of one channel under each component (the paper's formula).

    `x` int and `scaled` float broadcast against `means` / `log_scales`.
    """
    half_width = 1.0 / (levels - 1)
    centered = scaled - means
    inv_scale = ops.exp(-log_scales)
    plus_in = inv_scale * (centered + half_width)
    min_in = inv_scale * (centered - half_width)
    # Edge bins: log sigmoid(plus_in) and log(1 - sigmoid(min_in)) in
    # softplus form, finite for any argument.
    log_cdf_plus = plus_in - ops.softplus(plus_in)
    log_one_minus_cdf_min = -ops.softplus(min_in)
    # Interior bins: sigmoid(a) - sigmoid(b) = sinh((a-b)/2) /
    # (2 cosh(a/2) cosh(b/2)), with (a - b)/2 = h / s exactly: no
    # cancellation between two CDF values close to each other (the naive
    # difference loses all digits in float32 for large scales or far tails).
    half_gap = ops.maximum(inv_scale * half_width, 1e-30)
    log_cdf_delta = (
        _log_sinh(half_gap)
        - math.log(2.0)
        - _log_cosh(0.5 * plus_in)
        - _log_cosh(0.5 * min_in)
    )
    # The paper's fallback where the bin mass is tiny: log pdf at the bin
    # centre times the bin width 2h (its `log_pdf_mid - log(127.5)`).
    mid_in = inv_scale * centered
    log_pdf_mid = mid_in - log_scales - 2.0 * ops.softplus(mid_in)
    log_mid = ops.where(
        log_cdf_delta > math.log(MIN_CDF_DELTA),
        log_cdf_delta,
        log_pdf_mid - math.log((levels - 1) / 2.0),
    )
    return ops.where(
        x == 0,
        log_cdf_plus,
        ops.where(x == levels - 1, log_one_minus_cdf_min, log_mid),
    )


def discretized_logistic_mixture_log_prob(
    x, params, levels, num_mixtures, channels=1, temperature=1.0, min_log_scale=-7.0
):
    """log p(x) of whole pixels under a mixture of discretized logistics.

    Args:
        x: int tensor `(..., C)` with values in `[0, levels)`.
        params: float tensor `(..., num_params(K, C))` (layout in the module
            docstring), broadcastable against `x` on the leading axes.
        levels: number of values per channel (>= 2; 256 for 8-bit images).
        num_mixtures: `K`, the number of logistic components.
        channels: `C`; for `C > 1` the channel means are coupled linearly.
        temperature: > 0; the distribution that `sample_discretized_logistic_
            mixture` draws from at that temperature (1 for the likelihood).
        min_log_scale: the lower clamp of the log-scales (paper: -7).
    Returns:
        float32 tensor `(...)`: the log-probability of each pixel, in nats.

    Example:
    >>> import numpy as np
    >>> params = np.zeros((2, 3 * 5), "float32")  # K = 5, grayscale
    >>> x = np.array([[0], [128]])
    >>> tuple(discretized_logistic_mixture_log_prob(x, params, 256, 5).shape)
    (2,)
    """
    levels = check_int("levels", levels, minimum=2)
    logits, means, log_scales, coeffs = split_params(
        params, num_mixtures, channels, temperature, min_log_scale
    )
    x = ops.convert_to_tensor(x)
    if len(x.shape) == 0 or x.shape[-1] != channels:
        raise ValueError(
            f"`x` must have last dimension {channels} (the channels), got "
            f"shape {tuple(x.shape)}"
        )
    x = ops.cast(x, "int32")
    scaled = _scale_values(x, levels)
    log_probs = ops.log_softmax(logits, axis=-1)  # (..., K)
    for c in range(channels):
        mean = means[..., c, :]
        for j in range(c):
            alpha = coeffs[..., _coefficient_index(c, j), :]
            mean = mean + alpha * scaled[..., j : j + 1]
        log_probs = log_probs + _bin_log_prob(
            x[..., c : c + 1],
            scaled[..., c : c + 1],
            mean,
            log_scales[..., c, :],
            levels,
        )
    return ops.logsumexp(log_probs, axis=-1)


def discretized_logistic_mixture_probs(
    params, levels, num_mixtures, channels=1, temperature=1.0, min_log_scale=-7.0
):
    """Probabilities of every pixel value (for tests and exact checks).

    Enumerates the `levels ** channels` values of a pixel, so it is meant
    for small `levels` (or grayscale).

    Args:
        params: float tensor `(..., num_params(K, C))`.
        levels, num_mixtures, channels, temperature, min_log_scale: as in
            `discretized_logistic_mixture_log_prob`.
    Returns:
        float32 tensor `(..., levels ** channels)`; entry
        `sum_c x_c * levels ** (C - 1 - c)` is `p(x_0, ..., x_{C-1})`.

    Example:
    >>> import numpy as np
    >>> probs = discretized_logistic_mixture_probs(np.zeros((10,), "float32"), 4, 1, 3)
    >>> tuple(probs.shape)
    (64,)
    """
    levels = check_int("levels", levels, minimum=2)
    channels = check_int("channels", channels, minimum=1)
    grid = np.array(list(itertools.product(range(levels), repeat=channels)), "int32")
    params = ops.cast(ops.convert_to_tensor(params), "float32")
    _check_params(params, num_mixtures, channels)
    params = ops.expand_dims(params, -2)  # (..., 1, P) against (L^C, C)
    log_p = discretized_logistic_mixture_log_prob(
        ops.convert_to_tensor(grid), params, levels, num_mixtures, channels,
        temperature, min_log_scale,
    )  # fmt: skip
    return ops.exp(log_p)


def sample_discretized_logistic_mixture(
    params,
    uniforms,
    levels,
    num_mixtures,
    channels=1,
    temperature=1.0,
    min_log_scale=-7.0,
):
    """Draws whole pixels by inverse CDF from caller-given uniforms.

    `uniforms[..., 0]` picks the component by the CDF of the mixture weights
    `softmax(logits / temperature)`; `uniforms[..., 1 + c]` gives channel
    `c` the logistic draw `mu + s * temperature * (log u - log(1 - u))`,
    which is rounded to its bin and clipped to `[0, levels)`: the edge bins
    take the tails, exactly as in the likelihood. The coupled means use the
    *discretized* values of the earlier channels, the values the likelihood
    conditions on, so the draws follow `discretized_logistic_mixture_probs`
    exactly (the paper's code couples on the unrounded draw instead).

    Args:
        params: float tensor `(..., num_params(K, C))`.
        uniforms: float tensor `(..., 1 + C)` of U[0, 1) draws.
        levels, num_mixtures, channels, min_log_scale: as in
            `discretized_logistic_mixture_log_prob`.
        temperature: > 0; below 1 sharpens the mixture weights and narrows
            the logistics, above 1 flattens and widens them.
    Returns:
        int32 tensor `(..., C)`; inside `keras_ar.ops.step_coder.coding` the
        coder's choice instead.

    Example:
    >>> import numpy as np
    >>> params = np.zeros((4, 10 * 2), "float32")  # K = 2, RGB
    >>> u = np.random.default_rng(0).random((4, 4)).astype("float32")
    >>> tuple(sample_discretized_logistic_mixture(params, u, 256, 2, 3).shape)
    (4, 3)
    """
    levels = check_int("levels", levels, minimum=2)
    if isinstance(temperature, (int, float)):
        check_positive_float("temperature", temperature)
    coder = active_coder()
    if coder is not None:
        options = dict(
            levels=levels,
            num_mixtures=num_mixtures,
            channels=channels,
            min_log_scale=float(min_log_scale),
        )
        return coder.logistic_mixture(ops.cast(params, "float32"), options)
    logits, means, log_scales, coeffs = split_params(
        params, num_mixtures, channels, 1.0, min_log_scale
    )
    o = step_ops(logits)  # in torch directly on PyTorch (an eager step's cost)
    uniforms = o.cast(o.convert_to_tensor(uniforms), "float32")
    if len(uniforms.shape) == 0 or uniforms.shape[-1] != channels + 1:
        raise ValueError(
            f"`uniforms` must have last dimension {channels + 1} (one to pick "
            f"the component, one per channel), got shape {tuple(uniforms.shape)}"
        )
    temperature = o.cast(temperature, "float32")
    component = sample_categorical(logits, uniforms[..., 0], temperature)
    one_hot = o.one_hot(component, num_mixtures, dtype="float32")[..., None, :]

    def pick(t):
        return o.sum(t * one_hot, axis=-1)

    mu, log_s = pick(means), pick(log_scales)  # (..., C)
    alphas = pick(coeffs)
    # Keep u away from 0 and 1 so that the logit stays finite (a tail mass
    # of 1e-7 moves no sample in practice).
    u = o.clip(uniforms[..., 1:], 1e-7, 1.0 - 1e-7)
    logistic = o.log(u) - o.log1p(-u)
    scale = o.exp(log_s) * temperature
    values, scaled_values = [], []
    for c in range(channels):
        mean = mu[..., c]
        for j in range(c):
            mean = mean + alphas[..., _coefficient_index(c, j)] * scaled_values[j]
        draw = mean + scale[..., c] * logistic[..., c]
        # Bin k covers [x'_k - h, x'_k + h): rounding (x' + 1) / (2h) finds it.
        bin_index = o.clip(o.round((draw + 1.0) * ((levels - 1) / 2.0)), 0, levels - 1)
        value = o.cast(bin_index, "int32")
        values.append(value)
        scaled_values.append(_scale_values(value, levels))
    return o.stack(values, axis=-1)
