"""`Sampler`: the base of keras_ar's next-token samplers.

A sampler turns the logits of one generation step into token ids. Its
randomness comes from uniforms that the caller draws up front (one per
sequence and step) and spends by inverse CDF (`keras_ar.ops.categorical`),
so that two generation paths given the same uniforms (the cached and the
uncached one) make the same choice at every step, on every backend.
"""

import keras
from keras import ops

from keras_ar.ops.categorical import sample_categorical

#: A logit that is "minus infinity" for softmax but stays finite, so that
#: sums and differences of masked logits never turn into NaN.
MASKED_LOGIT = -1e9


@keras.saving.register_keras_serializable(package="keras_ar")
class Sampler:
    """Base class of the samplers: `sampler(logits, uniforms, temperature)`.

    A subclass either restricts the candidates by overriding
    `filter_logits(logits)` (top-k, top-p) and keeps the base's inverse-CDF
    draw, or overrides `get_next_token(logits, uniforms)` (greedy).

    Call arguments:
        logits: float tensor `(batch, vocab_size)`: unnormalized
            log-probabilities of the next token.
        uniforms: float tensor `(batch,)` of U[0, 1) draws, one per sequence.
        temperature: scalar > 0. The logits are divided by it before any
            filtering: below 1 sharpens the distribution, above 1 flattens it.

    Returns:
        int32 tensor `(batch,)` of token ids.

    Example:
    ```python
    import numpy as np
    from keras_ar.samplers import RandomSampler

    logits = np.log(np.array([[0.1, 0.2, 0.7]], "float32"))
    sampler = RandomSampler()
    sampler(logits, np.array([0.25], "float32"))  # -> [1]: CDF is .1, .3, 1
    ```
    """

    #: Uniform draws consumed per sequence and step.
    noise_width = 1

    def __call__(self, logits, uniforms, temperature=1.0):
        logits = self.compute_logits(logits, temperature)
        return self.get_next_token(logits, uniforms)

    def compute_logits(self, logits, temperature=1.0):
        """The tempered, filtered logits the token is drawn from."""
        logits = ops.cast(logits, "float32") / ops.cast(temperature, "float32")
        return self.filter_logits(logits)

    def filter_logits(self, logits):
        """Hook: returns `logits` with excluded tokens set to `MASKED_LOGIT`."""
        return logits

    def get_next_token(self, logits, uniforms):
        """Draws from softmax(logits) by inverse CDF of `uniforms`."""
        return ops.cast(sample_categorical(logits, uniforms), "int32")

    def validate(self, vocab_size):
        """Hook: checks the sampler's settings against the vocabulary size."""

    @property
    def cache_key(self):
        """A hashable summary of the settings (compiled loops are cached by it)."""
        return (type(self).__name__,) + tuple(sorted(self.get_config().items()))

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
