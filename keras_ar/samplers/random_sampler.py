"""`RandomSampler`: ancestral sampling from the full softmax."""

import keras

from keras_ar.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="keras_ar")
class RandomSampler(Sampler):
    """Draws the next token from softmax(logits / temperature).

    This is the sampling of the book's `TextGenerator` (ch. 5): every token
    keeps its probability, so at temperature 1 the generated sequences follow
    the model's distribution exactly.

    Example:
    ```python
    import numpy as np
    from keras_ar.samplers import RandomSampler

    logits = np.array([[0.0, 1.0, 2.0]], "float32")
    RandomSampler()(logits, np.array([0.5], "float32"), temperature=0.5)
    ```
    """
