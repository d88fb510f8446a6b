"""`MixtureOfGaussians`: a mixture density head for real-valued data."""

import keras

from keras_ar.layers._mixture import MixtureHead
from keras_ar.ops import mixture_of_gaussians as mog


@keras.saving.register_keras_serializable(package="keras_ar")
class MixtureOfGaussians(MixtureHead):
    """Projects features to a mixture of Gaussians per real value.

    `call` is a dense projection of features `(..., F)` to the mixture
    parameters `(..., 3K)`, `[logits (K) | means (K) | log_scales (K)]`
    (see `keras_ar.ops.mixture_of_gaussians`). The raw projection is what
    `call` returns; `log_prob`, `cdf` and `sample` read it with the
    log-scales clamped to `[min_log_scale, max_log_scale]`, so all three
    see one and the same distribution. `log_prob` is a density in nats (it
    can be positive).

    Args:
        num_components: `K`, Gaussian components per value (>= 1).
        min_log_scale, max_log_scale: the clamp of the log-scales (the
            module `keras_ar.ops.mixture_of_gaussians` says why a clamp).
        kernel_initializer, bias_initializer: for the projection.

    Example:
    >>> import numpy as np
    >>> head = MixtureOfGaussians(num_components=3)
    >>> params = head(np.zeros((2, 5, 8), "float32"))
    >>> tuple(params.shape)  # 3 * K
    (2, 5, 9)
    >>> x = np.random.default_rng(0).normal(size=(2, 5)).astype("float32")
    >>> tuple(head.log_prob(x, params).shape)
    (2, 5)
    >>> u = np.random.default_rng(1).random((2, 5, 2)).astype("float32")
    >>> tuple(head.sample(params, u).shape)
    (2, 5)
    """

    def __init__(
        self,
        num_components=5,
        min_log_scale=mog.MIN_LOG_SCALE,
        max_log_scale=mog.MAX_LOG_SCALE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        mog.set_mixture_args(self, num_components, min_log_scale, max_log_scale)
        self.num_params = mog.num_params(self.num_components)

    # -- the distribution ---------------------------------------------------
    def log_prob(self, x, params, temperature=1.0):
        """log-density in nats: float `x (...)`, params `(..., 3K)` -> `(...)`;
        at `temperature`, the density of `sample(..., temperature)`."""
        return mog.gaussian_mixture_log_prob(
            x, params, self.num_components, **mog.clamp_of(self), temperature=temperature
        )

    def cdf(self, x, params, temperature=1.0):
        """P(X <= x): float `x (...)`, params `(..., 3K)` -> `(...)`."""
        return mog.gaussian_mixture_cdf(
            x, params, self.num_components, **mog.clamp_of(self), temperature=temperature
        )

    def sample(self, params, uniforms, temperature=1.0):
        """Samples `(...)` float32 from uniforms `(..., 2)`."""
        return mog.sample_gaussian_mixture(
            params, uniforms, self.num_components, temperature, **mog.clamp_of(self)
        )
