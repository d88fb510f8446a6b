"""`ContinuousAutoregressiveModel`: the base of the real-valued families.

The discrete families model integers in `[0, levels)`; a real-valued model
factorizes a density p(x) = prod_i p(x_i | x_<i) over float vectors, and its
`log_prob` is a log-density in nats (it can be positive). Everything else
is the `AutoregressiveModel` API: `fit(x)` with the NLL as default loss,
`log_prob`, `generate` (a compiled loop fed uniforms drawn up front),
`save`/`load`, `export`.

What is checked where: the base's checks, with floats as the right data.
Arrays given to `fit`, `evaluate`, `predict`, `*_on_batch`, `log_prob` or
`generate(prefix=...)` must be real numbers (any float or integer dtype,
not bool) of shape `(batch, *event_shape)`, all finite: a NaN or an inf, a
wrong width or a non-numeric dtype raises a `ValueError` naming the
argument. Streamed data is checked batch by batch in the steps (dtype and
shape; values where the batch is concrete), and in a compiled step a batch
holding a NaN or an inf gets a NaN loss, never a finite number.

Subclasses implement the contract of `AutoregressiveModel` (`call`,
`log_prob_and_dims(x, outputs, temperature=1.0)`, the generation hooks)
with float32 `x`; `levels` is None. They draw `noise_width` = 2 uniforms
per step for a mixture of Gaussians (`keras_ar.ops.mixture_of_gaussians`).
"""

import keras
import numpy as np
from keras import ops

from keras_ar.models.base import AutoregressiveModel
from keras_ar.validation import check_positive_float, to_numpy


class ContinuousAutoregressiveModel(AutoregressiveModel):
    """Base class of keras_ar's real-valued models. Not used directly."""

    noise_width = 2
    data_dtype = "float32"
    #: A density's NLL per dimension is reported in nats (`nats_per_dim`).
    nll_unit = "nats"

    def __init__(self, event_shape, num_classes=None, **kwargs):
        # `levels` has no meaning for real values: the base wants an int,
        # then it is cleared so that nothing clips or one-hot encodes.
        super().__init__(
            levels=2, event_shape=event_shape, num_classes=num_classes, **kwargs
        )
        self.levels = None

    # -- data checks (hooks of the base) ----------------------------------
    def _check_dtype(self, dtype, name):
        dtype = keras.backend.standardize_dtype(dtype)
        if not dtype.startswith(("float", "bfloat", "int", "uint")):
            raise ValueError(
                f"`{name}` must hold real numbers (a float array), got dtype {dtype}"
            )

    def _check_values(self, x, name, where=""):
        if isinstance(x, np.ndarray):
            finite = bool(np.isfinite(x).all())
        else:
            finite = bool(ops.convert_to_numpy(ops.all(ops.isfinite(x))))
        if not finite:
            x = to_numpy(x)
            raise ValueError(
                f"`{name}` must hold finite values, got {int(np.isnan(x).sum())} "
                f"NaN and {int(np.isinf(x).sum())} inf{where}"
            )

    def validate_values(self, x, name="x"):
        """Checks that `x` holds finite real numbers; returns float32 NumPy."""
        x = to_numpy(x)
        self._check_dtype(x.dtype, name)
        x = x.astype("float32")
        self._check_values(x, name)
        return x

    def _bad_values(self, x):
        """Scalar bool tensor: a NaN or inf in the batch."""
        return ops.logical_not(ops.all(ops.isfinite(ops.cast(x, "float32"))))

    def unpack_inputs(self, inputs):
        """`(x, labels)`: `x` as float32 (non-finite values are left to the
        loss, which turns them into NaN)."""
        x, labels = super().unpack_inputs(inputs)
        return ops.cast(x, "float32"), labels

    def log_prob(self, x, labels=None, batch_size=128, temperature=1.0):
        """Log-density of each example, in nats (it can be positive).

        Args:
            x: float array `(N, *event_shape)`, finite.
            labels: for a class-conditional model, int array `(N,)`.
            batch_size: examples per forward pass.
            temperature: > 0; the density of what `generate(...,
                temperature=temperature)` samples: every conditional's
                mixture logits divided by it and its scales multiplied by
                it (1: the model's density). A temperature chosen on held-out
                data calibrates the spread of the samples, and the tempered
                model's likelihood is this one.
        Returns:
            float64 NumPy array `(N,)`; `exp(log_prob)` integrates to one
            over `x`, at every temperature.
        """
        temperature = check_positive_float("temperature", temperature)

        def score(x, outputs):
            log_prob, _ = self.log_prob_and_dims(x, outputs, temperature=temperature)
            return ops.convert_to_numpy(log_prob)

        return self._score_in_batches(x, labels, batch_size, score)

    def bits_per_dim(self, x, labels=None, batch_size=128):
        raise NotImplementedError(
            "bits per dimension is for discrete data; a real-valued model's "
            "log_prob is a density (nats), see log_prob"
        )

    # -- generation -------------------------------------------------------
    def _generation_state(self, x0, labels, use_cache):
        state = {"x": ops.convert_to_tensor(x0, "float32")}
        if labels is not None:
            state["labels"] = ops.convert_to_tensor(labels, "int32")
        return state

    def _generation_result(self, state):
        return ops.convert_to_numpy(state["x"]).astype("float32")
