"""Mixtures of Gaussians over real values: log-density, CDF and sampling.

A mixture of `K` Gaussians per dimension is read from a parameter vector
`(..., 3K)` laid out as

    [ logits (K) | means (K) | log_scales (K) ]

so that a dense layer (or a masked dense layer, for MADE) can emit it per
dimension. The density is

    p(x) = sum_k softmax(logits)_k N(x; mean_k, exp(log_scale_k)^2),

a density over the real line (in nats, `log_prob` can be positive).

Numerical stability. The log-density is computed as a log-sum-exp over the
components of `log_softmax(logits) + log N(x; ...)`, never by summing
densities, so no component's density underflows to zero and extreme mixture
logits (e.g. +-1e4) leave one component's log-weight at 0 and the others
very negative but finite. The log-scales are *clamped* to
`[min_log_scale, max_log_scale]` (default `[-7, 7]`, scales of about 9e-4
to 1.1e3 in the units the model sees), rather than mapped through a
softplus: inside the range a head's output is its log-scale exactly, so the
parameters stay readable and the gradient is the plain Gaussian one; the
lower bound stops a component from collapsing onto one repeated data value
(the likelihood of a Gaussian mixture is unbounded as a scale goes to 0),
and the upper bound keeps `exp` away from overflow at extreme raw outputs.
With the clamp, `(x - mean) / scale` stays below about 1e3 * |x - mean|,
so even means of +-1e4 give finite float32 log-densities. Models should
feed the head standardized data (MADE-MoG: the caller standardizes;
DeepAR: the model scales by statistics of the training series).

Sampling turns uniforms given by the caller into samples (two per value:
one picks the component by inverse CDF over the mixture weights, one gives
the Gaussian quantile `mean + scale * sqrt(2) * erfinv(2u - 1)`), so that
the noise is drawn once, up front, and a cached and an uncached generation
path fed the same uniforms make the same draw (see
`keras_ar/ops/categorical.py`).

Temperature. Sampling at temperature t divides the mixture logits by t and
multiplies every scale by t (the means stay): t < 1 sharpens the
distribution, t > 1 widens it. `log_prob` and `cdf` take the same
`temperature`, so that the tempered distribution that is sampled is also
the one scored (an exact density for every t > 0; t = 1 is the model's).
"""

import math

from keras import ops

from keras_ar.ops.categorical import sample_categorical
from keras_ar.validation import check_int

#: Default clamp of the log-scales (see the module docstring).
MIN_LOG_SCALE = -7.0
MAX_LOG_SCALE = 7.0
#: Uniforms are kept this far from 0 and 1 before the Gaussian quantile.
_UNIFORM_EPS = 1e-6
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def num_params(num_components):
    """Parameters per value: `3K`."""
    return 3 * int(num_components)


def check_log_scale_clamp(min_log_scale, max_log_scale):
    """Checks a clamp `[min_log_scale, max_log_scale]`; returns two floats.

    For the models and layers that take the clamp as arguments, so that
    each reports a bad one the same way.
    """
    for name, value in (
        ("min_log_scale", min_log_scale),
        ("max_log_scale", max_log_scale),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"`{name}` must be a number, got {value!r}")
    if not min_log_scale < max_log_scale:
        raise ValueError(
            "`min_log_scale` must be below `max_log_scale`, got "
            f"{min_log_scale} and {max_log_scale}"
        )
    return float(min_log_scale), float(max_log_scale)


def set_mixture_args(owner, num_components, min_log_scale, max_log_scale):
    """Checks and stores `num_components` and the log-scale clamp on
    `owner` (a layer or model with a mixture-of-Gaussians conditional)."""
    owner.num_components = check_int("num_components", num_components, minimum=1)
    owner.min_log_scale, owner.max_log_scale = check_log_scale_clamp(
        min_log_scale, max_log_scale
    )


def clamp_of(owner):
    """The clamp `set_mixture_args` stored, as the functions' keywords."""
    return dict(min_log_scale=owner.min_log_scale, max_log_scale=owner.max_log_scale)


def split_params(
    params, num_components, min_log_scale=MIN_LOG_SCALE, max_log_scale=MAX_LOG_SCALE
):
    """`(logits, means, log_scales)`, each float32 `(..., K)`; log-scales clamped."""
    params = ops.cast(params, "float32")
    k = int(num_components)
    logits = params[..., :k]
    means = params[..., k : 2 * k]
    log_scales = ops.clip(params[..., 2 * k : 3 * k], min_log_scale, max_log_scale)
    return logits, means, log_scales


def _tempered(logits, log_scales, temperature):
    """The logits and log-scales at `temperature` (see the module docstring;
    the clamp applies to the model's log-scales, before the temperature, as
    in sampling). A Python 1 leaves them as they are."""
    if isinstance(temperature, (int, float)) and temperature == 1:
        return logits, log_scales
    temperature = ops.cast(temperature, "float32")
    return logits / temperature, log_scales + ops.log(temperature)


def gaussian_mixture_log_prob(
    x,
    params,
    num_components,
    min_log_scale=MIN_LOG_SCALE,
    max_log_scale=MAX_LOG_SCALE,
    temperature=1.0,
):
    """log p(x) in nats, elementwise.

    Args:
        x: float tensor `(...)`.
        params: float tensor `(..., 3K)` (see the module docstring).
        num_components: K.
        temperature: > 0; the density of the samples drawn at that
            temperature (1: the model's).
    Returns:
        float32 tensor `(...)`.
    """
    logits, means, log_scales = split_params(
        params, num_components, min_log_scale, max_log_scale
    )
    logits, log_scales = _tempered(logits, log_scales, temperature)
    x = ops.expand_dims(ops.cast(x, "float32"), -1)
    z = (x - means) * ops.exp(-log_scales)
    log_normal = -0.5 * ops.square(z) - log_scales - _HALF_LOG_2PI
    return ops.logsumexp(ops.log_softmax(logits, axis=-1) + log_normal, axis=-1)


def gaussian_mixture_cdf(
    x,
    params,
    num_components,
    min_log_scale=MIN_LOG_SCALE,
    max_log_scale=MAX_LOG_SCALE,
    temperature=1.0,
):
    """P(X <= x), elementwise: float `x (...)`, params `(..., 3K)` -> `(...)`
    (at `temperature`, as `gaussian_mixture_log_prob`)."""
    logits, means, log_scales = split_params(
        params, num_components, min_log_scale, max_log_scale
    )
    logits, log_scales = _tempered(logits, log_scales, temperature)
    x = ops.expand_dims(ops.cast(x, "float32"), -1)
    z = (x - means) * ops.exp(-log_scales)
    normal_cdf = 0.5 * (1.0 + ops.erf(z / math.sqrt(2.0)))
    return ops.sum(ops.softmax(logits, axis=-1) * normal_cdf, axis=-1)


def sample_gaussian_mixture(
    params,
    uniforms,
    num_components,
    temperature=1.0,
    min_log_scale=MIN_LOG_SCALE,
    max_log_scale=MAX_LOG_SCALE,
):
    """Draws from the mixture by inverse CDF of two uniforms per value.

    Args:
        params: float tensor `(..., 3K)`.
        uniforms: float tensor `(..., 2)` of U[0, 1) draws: `[..., 0]`
            picks the component, `[..., 1]` the Gaussian quantile.
        num_components: K.
        temperature: > 0; divides the mixture logits and multiplies the
            scales (1 samples the model's density).
    Returns:
        float32 tensor `(...)`.
    """
    logits, means, log_scales = split_params(
        params, num_components, min_log_scale, max_log_scale
    )
    temperature = ops.cast(temperature, "float32")
    uniforms = ops.cast(uniforms, "float32")
    component = sample_categorical(logits, uniforms[..., 0], temperature)
    pick = ops.one_hot(component, int(num_components), dtype="float32")
    mean = ops.sum(pick * means, axis=-1)
    scale = ops.exp(ops.sum(pick * log_scales, axis=-1)) * temperature
    u = ops.clip(uniforms[..., 1], _UNIFORM_EPS, 1.0 - _UNIFORM_EPS)
    return mean + scale * math.sqrt(2.0) * ops.erfinv(2.0 * u - 1.0)


def gaussian_mixture_mean(params, num_components):
    """The mixture's mean, `(...)`."""
    logits, means, _ = split_params(params, num_components)
    return ops.sum(ops.softmax(logits, axis=-1) * means, axis=-1)
