"""`TopPSampler`: nucleus sampling."""

import math

import keras
from keras import ops

from keras_ar.samplers.sampler import MASKED_LOGIT, Sampler
from keras_ar.samplers.top_k_sampler import top_k_filter
from keras_ar.validation import check_int


def top_p_filter(logits, p):
    """Keeps the nucleus: the smallest set of most likely tokens whose
    probabilities sum to at least `p`; masks the other logits.

    Works with a probability threshold rather than a scatter back from sorted
    order, so that memory stays `O(batch * vocab)`; tokens tied with the
    least likely member of the nucleus are kept too.
    """
    probs = ops.softmax(logits, axis=-1)
    descending = ops.flip(ops.sort(probs, axis=-1), axis=-1)
    # A token is in the nucleus if the mass of the tokens ranked before it is
    # still short of p; the most likely token always is.
    mass_before = ops.cumsum(descending, axis=-1) - descending
    in_nucleus = mass_before < p
    # `ops.amin`, not `ops.min`: PyTorch's `ops.min` reads an attribute of
    # its result that breaks a `torch.compile` graph.
    threshold = ops.amin(ops.where(in_nucleus, descending, 2.0), axis=-1, keepdims=True)
    return ops.where(probs >= threshold, logits, MASKED_LOGIT)


@keras.saving.register_keras_serializable(package="keras_ar")
class TopPSampler(Sampler):
    """Nucleus sampling (Holtzman et al., 2020, "The Curious Case of Neural
    Text Degeneration").

    Keeps the smallest set of most likely tokens whose probabilities (after
    the temperature) add up to at least `p`, and draws from their
    renormalized softmax.

    Args:
        p: float in (0, 1]: the probability mass of the nucleus. `p=1` is
            plain random sampling.
        k: optional int >= 1: a top-k cut applied before the nucleus.

    Example:
    ```python
    import numpy as np
    from keras_ar.samplers import TopPSampler

    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], "float32"))
    TopPSampler(p=0.7)(logits, np.array([0.99], "float32"))  # -> 0 or 1 only
    ```
    """

    def __init__(self, p=0.9, k=None):
        self.p = check_top_p(p)
        self.k = None if k is None else check_int("top_k", k, minimum=1)

    def filter_logits(self, logits):
        if self.k is not None:
            logits = top_k_filter(logits, self.k)
        return top_p_filter(logits, self.p)

    def validate(self, vocab_size):
        if self.k is not None:
            check_int("top_k", self.k, minimum=1, maximum=vocab_size)

    def get_config(self):
        return {"p": self.p, "k": self.k}


def check_top_p(p):
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"`top_p` must be a number in (0, 1], got {p!r}") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"`top_p` must be in (0, 1], got {p!r}")
    return value
