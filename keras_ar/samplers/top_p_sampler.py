"""`TopPSampler`: nucleus sampling."""

import math

import keras
from keras import ops

from keras_ar.samplers.sampler import MASKED_LOGIT, Sampler
from keras_ar.validation import check_int


def top_p_filter(logits, p, k=None):
    """Keeps the nucleus of softmax(logits); masks the other logits.

    The tokens are ranked by probability (measured on the full softmax); if
    `k` is given only the `k` most likely are candidates. A candidate is kept
    when the probability mass of the tokens ranked before it is at most `p`,
    so the most likely token always is and the nucleus is the smallest
    prefix of the ranking whose mass exceeds `p` (keras-hub's
    `TopPSampler(p, k)` rule: `p` is not measured on the renormalized
    top k). `p >= 1` keeps every candidate.

    Works with a probability threshold rather than a scatter back from sorted
    order, so that memory stays `O(batch * vocab)`; tokens tied with the
    least likely kept token are kept too.
    """
    keep = None
    if k is not None:
        kth = ops.top_k(logits, k, sorted=True)[0][..., -1:]
        keep = logits >= kth
    if p < 1.0:
        probs = ops.softmax(logits, axis=-1)
        if keep is not None:
            probs = ops.where(keep, probs, 0.0)
        descending = ops.flip(ops.sort(probs, axis=-1), axis=-1)
        # The mass ranked before each token (an exclusive cumulative sum).
        cumulative = ops.cumsum(descending, axis=-1)
        mass_before = ops.concatenate(
            [ops.zeros_like(cumulative[..., :1]), cumulative[..., :-1]], axis=-1
        )
        in_nucleus = ops.logical_and(mass_before <= p, descending > 0.0)
        # The most likely token is kept even if its probability underflows.
        first = ops.concatenate(
            [
                ops.ones_like(in_nucleus[..., :1]),
                ops.zeros_like(in_nucleus[..., 1:]),
            ],
            axis=-1,
        )
        in_nucleus = ops.logical_or(in_nucleus, first)
        # `ops.amin`, not `ops.min`: PyTorch's `ops.min` reads an attribute
        # of its result that breaks a `torch.compile` graph.
        threshold = ops.amin(
            ops.where(in_nucleus, descending, 2.0), axis=-1, keepdims=True
        )
        nucleus = probs >= threshold
        keep = nucleus if keep is None else ops.logical_and(keep, nucleus)
    if keep is None:
        return logits
    return ops.where(keep, logits, MASKED_LOGIT)


@keras.saving.register_keras_serializable(package="keras_ar")
class TopPSampler(Sampler):
    """Nucleus sampling (Holtzman et al., 2020, "The Curious Case of Neural
    Text Degeneration"), with keras-hub's `TopPSampler(p, k)` semantics.

    Ranks the tokens by their probability after the temperature, keeps the
    most likely ones until the mass of the kept tokens exceeds `p` (the
    mass is that of the full softmax, also when `k` is given), and draws
    from their renormalized softmax.

    Args:
        p: float in (0, 1]: the probability mass of the nucleus. `p=1` is
            plain random sampling (exactly: no tail token is dropped to
            rounding).
        k: optional int >= 1: only the `k` most likely tokens are
            candidates. As in keras-hub, `p` is still measured on the full
            distribution: with probabilities `[.3, .22, .18, .15, .15]`,
            `p=0.55` and `k=2`, tokens 0 and 1 are both drawn (the two
            together hold .52 <= .55), not token 0 alone.

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
        return top_p_filter(logits, self.p, self.k)

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
