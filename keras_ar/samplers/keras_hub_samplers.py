"""keras-hub sampler objects in keras_ar's text models.

A keras-hub sampler runs its own loop over `next(prompt, cache, index) ->
(logits, hidden_states, cache)`; this module drives it with a text model's
generation hooks (`_init_cache`, `_cached_logits`, `_uncached_logits`), so
`generate(sampler=keras_hub.samplers.TopPSampler(p=0.9))` works on the cached
and the uncached path, and texts end at the model's stop tokens.
"""

import sys

import numpy as np
from keras import ops

from keras_ar.backend import no_grad
from keras_ar.samplers.sampler import Sampler


def keras_hub_sampler(sampler):
    """`sampler` if it is a keras-hub sampler object, else None."""
    if isinstance(sampler, (str, Sampler)):
        return None
    hub = sys.modules.get("keras_hub")
    if hub is not None and isinstance(sampler, hub.samplers.Sampler):
        return sampler
    return None


def generate_with_keras_hub(
    model, sampler, x0, prompt_length, stop_ids, fill, temperature, use_cache
):
    """Runs a keras-hub sampler's own loop on a text model's generation hooks.

    Args:
        model: a `TextAutoregressiveModel`.
        sampler: a `keras_hub.samplers.Sampler` object.
        x0: int32 NumPy `(N, max_length)` with the prompts in the first
            `prompt_length` columns.
        prompt_length: int.
        stop_ids: tuple of token ids that end a text (may be empty).
        fill: the id written after a text's stop token.
        temperature: divides the logits (before the sampler's own).
        use_cache: the model's cached step, or its full call, per token.
    Returns:
        int32 `(N, max_length)`, or `(sequences, scores)` for a beam sampler
        with `return_all_beams=True`.
    """
    num_samples, max_length = x0.shape
    if type(sampler).__name__ == "ContrastiveSampler":
        raise ValueError(
            "keras-hub's ContrastiveSampler needs the model's hidden states, "
            f"which {type(model).__name__}.generate does not provide; use "
            "another sampler."
        )
    if prompt_length >= max_length:
        return x0
    # keras-hub's loop stops once every row holds a stop token after its
    # prompt, so the positions still to draw must not hold one (the end
    # token is the pad): they get another id until drawn.
    placeholder = min(set(range(len(stop_ids) + 1)) - set(stop_ids))
    x0 = x0.copy()
    x0[:, prompt_length:] = placeholder
    x = ops.convert_to_tensor(x0, "int32")

    def next_fn(prompt, cache, index):
        if use_cache:
            logits, cache = model._cached_logits(index, prompt, cache)
        else:
            logits = model._uncached_logits(index, prompt)
        logits = ops.cast(logits, "float32") / temperature
        return logits, None, cache

    cache = model._init_cache(x, prompt_length) if use_cache else None
    mask = np.zeros((num_samples, max_length), bool)
    mask[:, :prompt_length] = True
    with no_grad():
        out = sampler(
            next_fn,
            x,
            cache=cache,
            index=prompt_length,
            mask=ops.convert_to_tensor(mask),
            stop_token_ids=stop_ids or None,
            model=model,
        )
    if isinstance(out, tuple):  # BeamSampler(return_all_beams=True)
        seqs, scores = (ops.convert_to_numpy(t) for t in out)
        seqs = _pad_after_stop(seqs.astype("int32"), prompt_length, stop_ids, fill)
        return seqs, scores.astype("float64")
    seqs = ops.convert_to_numpy(out).astype("int32")
    return _pad_after_stop(seqs, prompt_length, stop_ids, fill)


def _pad_after_stop(x, prompt_length, stop_ids, fill):
    """Keeps each row's first generated stop token; pads what follows."""
    if not stop_ids:
        return x
    generated = x[..., prompt_length:]
    hit = np.isin(generated, stop_ids)
    after = np.cumsum(hit, axis=-1) - hit > 0
    generated = np.where(after, fill, generated)
    return np.concatenate([x[..., :prompt_length], generated], axis=-1).astype("int32")
