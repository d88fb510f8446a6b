"""The hook through which an entropy coder takes over a generation step.

Every generation step draws its value in one of two functions:
`sample_categorical` (categorical heads, text samplers) and
`sample_discretized_logistic_mixture` (PixelCNN++, PixelSNAIL's logistic
head). While a coder is active (`with coding(coder):` around the step, so
that it is active while the step is traced or run), they return the
coder's choice instead of a sample:

- `coder.categorical(logits)`: int32 `logits.shape[:-1]` from the logits
  `(..., K)` of the step;
- `coder.logistic_mixture(params, options)`: int32 `(..., C)` whole pixels
  from the mixture parameters `(..., P)`; `options` holds `levels`,
  `num_mixtures`, `channels` and `min_log_scale`.

The rest of the step (caches, writes, stop tokens) runs unchanged, so the
compressor and the decompressor run the very program `generate` runs, with
the coder choosing the values: the true ones when encoding, the decoded
ones when decoding (`keras_ar.compression`).
"""

import contextlib

_ACTIVE = []


@contextlib.contextmanager
def coding(coder):
    """Makes `coder` choose the values drawn inside this block."""
    _ACTIVE.append(coder)
    try:
        yield coder
    finally:
        _ACTIVE.pop()


def active_coder():
    """The coder of the innermost `coding` block, or None."""
    return _ACTIVE[-1] if _ACTIVE else None
