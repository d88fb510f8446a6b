"""Each step's distribution as float64 NumPy probabilities, on the host.

The compressor and the decompressor both turn a step's outputs (float32
logits, or mixture parameters) into probabilities here, with the same NumPy
code, and give them to the entropy coder, which quantises them to integers
(`constriction`'s `Categorical(perfect=False)`). As long as the step's
outputs are bit-identical on both sides, so are the integer tables.
"""

import numpy as np


def softmax(logits):
    """float64 `softmax(logits)` over the last axis."""
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def _sigmoid_difference(high, low):
    """`sigmoid(high) - sigmoid(low)` (high >= low) without cancellation in
    either tail."""
    with np.errstate(over="ignore", invalid="ignore"):
        right = low > 0  # both in the right tail: 1 - s(-z) on both sides
        upper = np.where(right, -low, high)
        lower = np.where(right, -high, low)
        result = np.exp(_log_sigmoid(upper)) - np.exp(_log_sigmoid(lower))
    return np.maximum(result, 0.0)


class LogisticMixture:
    """The channels of one pixel under a mixture of discretized logistics,
    one channel at a time (`keras_ar.ops.discretized_logistic` for the
    parameter layout): `channel_probs(c, values_before)` is
    `p(x_c | x_<c)` for every value of channel `c`.

    Args:
        params: float `(N, num_params)` mixture parameters of N pixels.
        levels, num_mixtures, channels, min_log_scale: the head's options.
    """

    def __init__(self, params, levels, num_mixtures, channels, min_log_scale):
        params = np.asarray(params, "float64")
        k, c = num_mixtures, channels
        n = params.shape[0]
        self.levels, self.k, self.c = levels, k, c
        self.logits = params[:, :k]
        self.means = params[:, k : k + c * k].reshape(n, c, k)
        log_scales = params[:, k + c * k : k + 2 * c * k].reshape(n, c, k)
        self.inv_scales = np.exp(-np.maximum(log_scales, min_log_scale))
        num_coeffs = c * (c - 1) // 2
        self.coeffs = np.tanh(
            params[:, k + 2 * c * k : k + (2 * c + num_coeffs) * k].reshape(
                n, num_coeffs, k
            )
        )
        # Component weights given the channels coded so far (the posterior).
        self.log_weights = self.logits - np.logaddexp.reduce(
            self.logits, axis=-1, keepdims=True
        )
        self.scaled = []
        half = 1.0 / (levels - 1)
        centres = np.arange(levels) * (2.0 * half) - 1.0
        self.upper = np.append(centres[:-1] + half, np.inf)
        self.lower = np.insert(centres[1:] - half, 0, -np.inf)

    def _component_probs(self, channel):
        mean = self.means[:, channel, :]
        for j in range(channel):
            index = channel * (channel - 1) // 2 + j
            mean = mean + self.coeffs[:, index, :] * self.scaled[j][:, None]
        inv = self.inv_scales[:, channel, :, None]
        high = (self.upper - mean[..., None]) * inv
        low = (self.lower - mean[..., None]) * inv
        return _sigmoid_difference(high, low)  # (N, K, levels)

    def channel_probs(self, channel):
        """`(N, levels)` float64: p(x_channel | the channels given so far)."""
        self._last = self._component_probs(channel)
        weights = np.exp(
            self.log_weights
            - np.logaddexp.reduce(self.log_weights, axis=-1, keepdims=True)
        )
        probs = np.einsum("nk,nkl->nl", weights, self._last)
        return probs / probs.sum(axis=-1, keepdims=True)

    def observe(self, values):
        """Conditions on the values `(N,)` of the channel last asked for."""
        values = np.asarray(values, "int64")
        taken = np.take_along_axis(self._last, values[:, None, None], axis=-1)[..., 0]
        with np.errstate(divide="ignore"):
            self.log_weights = self.log_weights + np.log(np.maximum(taken, 1e-300))
        self.scaled.append(values * (2.0 / (self.levels - 1)) - 1.0)
