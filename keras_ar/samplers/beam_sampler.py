"""`BeamSampler`: deterministic beam search over summed log-probabilities."""

import keras
from keras import ops

from keras_ar.samplers.sampler import MASKED_LOGIT, Sampler
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class BeamSampler(Sampler):
    """Beam search: keeps the `num_beams` most likely partial sequences.

    Every step extends each beam by every token, scores a candidate by the
    sum of the log-probabilities of its generated tokens (no length
    normalization: all candidates of a step have the same length, and a
    beam that has emitted a stop token keeps its score and is extended only
    by padding, at log-probability 0), and keeps the `num_beams` best.
    With `num_beams=1` this is greedy decoding; with
    `num_beams >= vocab_size ** (length - 1)` the search is exhaustive and
    returns the most likely sequence exactly.

    The search needs the model's loop (beams are reordered along with their
    recurrent states), so a beam sampler is passed to a model's `generate`
    rather than called on logits; `select` is the step it performs.

    Args:
        num_beams: int >= 1.
        return_all_beams: if True, `generate` returns `(sequences, scores)`
            with every beam, best first, instead of the best beam only.

    Example:
    ```python
    from keras_ar.models.recurrent_lm import RecurrentLM
    from keras_ar.samplers import BeamSampler

    model = RecurrentLM(vocab_size=20, sequence_length=6, units=8)
    best = model.generate(sampler=BeamSampler(num_beams=3))  # (1, 6) ids
    beams, scores = model.generate(
        sampler=BeamSampler(num_beams=3, return_all_beams=True)
    )  # (1, 3, 6) ids and (1, 3) summed log-probabilities
    ```
    """

    noise_width = 1

    def __init__(self, num_beams=4, return_all_beams=False):
        self.num_beams = check_int("num_beams", num_beams, minimum=1)
        self.return_all_beams = bool(return_all_beams)

    def get_next_token(self, logits, uniforms):
        raise NotImplementedError(
            "BeamSampler searches over whole sequences: pass it to a model's "
            "generate(sampler=...) instead of calling it on one step's logits."
        )

    def initial_scores(self, batch_size):
        """`(batch, num_beams)` scores: 0 for the first beam, masked for the
        others, so that the first step does not pick the same token from
        `num_beams` identical copies of the prompt."""
        first = ops.zeros((batch_size, 1), "float32")
        rest = ops.full((batch_size, self.num_beams - 1), MASKED_LOGIT, "float32")
        return ops.concatenate([first, rest], axis=1)

    def select(self, scores, logits, temperature=1.0, finished=None, pad_token_id=0):
        """One beam-search step.

        Args:
            scores: `(batch, num_beams)` summed log-probabilities so far.
            logits: `(batch, num_beams, vocab_size)` next-token logits.
            temperature: divides the logits before the log-softmax.
            finished: optional bool `(batch, num_beams)`: beams that emitted a
                stop token; they continue only with `pad_token_id`, at no cost.
            pad_token_id: the token that extends finished beams.
        Returns:
            `(scores, beam_indices, tokens)`, each `(batch, num_beams)`: the
            new scores (best first), which beam each survivor extends, and
            the token it appends.
        """
        scores = ops.cast(scores, "float32")
        logits = ops.cast(logits, "float32") / ops.cast(temperature, "float32")
        log_p = ops.log_softmax(logits, axis=-1)
        vocab_size = ops.shape(log_p)[-1]
        if finished is not None:
            only_pad = ops.where(
                ops.arange(vocab_size) == pad_token_id, 0.0, MASKED_LOGIT
            )
            finished = ops.cast(finished, "bool")[..., None]
            log_p = ops.where(finished, only_pad, log_p)
        candidates = scores[..., None] + log_p  # (batch, beams, vocab)
        batch = ops.shape(candidates)[0]
        flat = ops.reshape(candidates, (batch, -1))
        new_scores, flat_index = ops.top_k(flat, self.num_beams, sorted=True)
        flat_index = ops.cast(flat_index, "int32")
        return new_scores, flat_index // vocab_size, flat_index % vocab_size

    @property
    def cache_key(self):
        # `return_all_beams` only changes what `generate` returns, not the
        # loop, so it does not force a second compilation.
        return (type(self).__name__, self.num_beams)

    def get_config(self):
        return {"num_beams": self.num_beams, "return_all_beams": self.return_all_beams}
