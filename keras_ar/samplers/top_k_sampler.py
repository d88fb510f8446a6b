"""`TopKSampler`: sampling restricted to the k most likely tokens."""

import keras
from keras import ops

from keras_ar.samplers.sampler import MASKED_LOGIT, Sampler
from keras_ar.validation import check_int


def top_k_filter(logits, k):
    """Masks every logit below the k-th largest one (along the last axis).

    Tokens tied with the k-th largest logit are all kept.
    """
    kth = ops.top_k(logits, k, sorted=True)[0][..., -1:]
    return ops.where(logits >= kth, logits, MASKED_LOGIT)


@keras.saving.register_keras_serializable(package="keras_ar")
class TopKSampler(Sampler):
    """Draws the next token among the `k` most likely ones.

    The k largest (tempered) logits are kept, the rest get probability 0, and
    the token is drawn from the renormalized softmax (Fan et al., 2018,
    "Hierarchical Neural Story Generation").

    Args:
        k: int >= 1 (and at most the vocabulary size, checked at generation):
            how many candidates to keep.

    Example:
    ```python
    import numpy as np
    from keras_ar.samplers import TopKSampler

    logits = np.array([[0.0, 2.0, 1.0, -1.0]], "float32")
    TopKSampler(k=2)(logits, np.array([0.9], "float32"))  # -> 1 or 2, never 0/3
    ```
    """

    def __init__(self, k=5):
        self.k = check_int("top_k", k, minimum=1)

    def filter_logits(self, logits):
        return top_k_filter(logits, self.k)

    def validate(self, vocab_size):
        check_int("top_k", self.k, minimum=1, maximum=vocab_size)

    def get_config(self):
        return {"k": self.k}
