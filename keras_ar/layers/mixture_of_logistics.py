"""`MixtureOfLogistics`: the PixelCNN++ output head (Salimans et al., 2017)."""

import keras

from keras_ar.layers._mixture import MixtureHead
from keras_ar.ops import discretized_logistic as dl
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class MixtureOfLogistics(MixtureHead):
    """Projects features to a mixture of discretized logistics per pixel.

    `call` is a 1x1 projection (a per-position dense layer) of features
    `(..., F)` to the mixture parameters `(..., P)`, with
    `P = num_mixtures * (1 + 2C + C(C-1)/2)` (3K for grayscale, 10K for RGB):

        [ logits (K) | means (C x K) | log_scales (C x K) | coefficients ]

    channel-major within each block (see `keras_ar.ops.discretized_logistic`).
    The raw projection is what `call` returns; the distribution reads it with
    the log-scales clamped below at `min_log_scale` (the paper's -7) and the
    channel-coupling coefficients through `tanh`, in the ops module, so
    `log_prob`, `sample` and `probs` see one and the same interpretation.

    Args:
        num_mixtures: `K`, logistic components per pixel (>= 1).
        levels: values per channel (>= 2; 256 for 8-bit images).
        color_channels: `C`; with `C > 1` the means of later channels depend
            linearly on the earlier channels' values (G on R, B on R and G).
        min_log_scale: lower clamp of the log-scales.
        kernel_initializer, bias_initializer: for the projection.

    Example:
    >>> import numpy as np
    >>> head = MixtureOfLogistics(num_mixtures=2, levels=256, color_channels=3)
    >>> params = head(np.zeros((1, 4, 4, 8), "float32"))
    >>> tuple(params.shape)  # 10 * K
    (1, 4, 4, 20)
    >>> x = np.random.randint(0, 256, size=(1, 4, 4, 3))
    >>> tuple(head.log_prob(x, params).shape)
    (1, 4, 4)
    >>> u = np.random.default_rng(0).random((1, 4, 4, 4)).astype("float32")
    >>> tuple(head.sample(params, u).shape)
    (1, 4, 4, 3)
    """

    def __init__(
        self,
        num_mixtures=5,
        levels=256,
        color_channels=1,
        min_log_scale=-7.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_mixtures = check_int("num_mixtures", num_mixtures, minimum=1)
        self.levels = check_int("levels", levels, minimum=2)
        self.color_channels = check_int("color_channels", color_channels, minimum=1)
        if isinstance(min_log_scale, bool) or not isinstance(
            min_log_scale, (int, float)
        ):
            raise TypeError(f"`min_log_scale` must be a number, got {min_log_scale!r}")
        self.min_log_scale = float(min_log_scale)
        self.num_params = dl.num_params(self.num_mixtures, self.color_channels)

    # -- the distribution ---------------------------------------------------
    def _options(self):
        return dict(
            levels=self.levels,
            num_mixtures=self.num_mixtures,
            channels=self.color_channels,
            min_log_scale=self.min_log_scale,
        )

    def log_prob(self, x, params, temperature=1.0):
        """log p(x) per pixel: int `x (..., C)`, params `(..., P)` -> `(...)`."""
        return dl.discretized_logistic_mixture_log_prob(
            x, params, temperature=temperature, **self._options()
        )

    def sample(self, params, uniforms, temperature=1.0):
        """Whole pixels `(..., C)` int32 from uniforms `(..., 1 + C)`."""
        return dl.sample_discretized_logistic_mixture(
            params, uniforms, temperature=temperature, **self._options()
        )

    def probs(self, params, temperature=1.0):
        """Probabilities of all `levels ** C` pixel values, `(..., L ** C)`."""
        return dl.discretized_logistic_mixture_probs(
            params, temperature=temperature, **self._options()
        )
