"""`GreedySampler`: the most likely token at every step."""

import keras
from keras import ops

from keras_ar.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="keras_ar")
class GreedySampler(Sampler):
    """Picks argmax(logits) at every step; the uniforms are ignored.

    Deterministic, and the temperature has no effect (dividing by a positive
    number keeps the argmax). Greedy decoding is beam search with one beam.

    Example:
    ```python
    import numpy as np
    from keras_ar.samplers import GreedySampler

    logits = np.array([[0.1, 3.0, -1.0]], "float32")
    GreedySampler()(logits, np.zeros((1,), "float32"))  # -> [1]
    ```
    """

    def get_next_token(self, logits, uniforms):
        return ops.cast(ops.argmax(logits, axis=-1), "int32")
