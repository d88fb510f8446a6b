"""`TextAutoregressiveModel`: what keras_ar's language models share.

A text model factorizes a token sequence as
p(x_0, ..., x_{T-1}) = prod_t p(x_t | x_<t) and, unlike a fixed-length
model, it models where a text ends. This base gives every language model,
identically on every backend:

- The end of a text. With `pad_token_id` set (0, as `TextVectorization`
  and keras-hub's `[PAD]`-first vocabularies produce), the first pad token
  of a right-padded row is the end-of-text token: it is a target like any
  word, and every position after it is masked out. So `exp(log_prob)` is a
  proper distribution over the texts of up to `sequence_length` tokens (a
  text of exactly `sequence_length` tokens ends without an end token),
  `fit`'s loss and `perplexity` count the end as one more token per text,
  and `generate` ends each text when it draws the end token, padding the
  rest. With `pad_token_id=None` every position is scored (fixed-length
  sequences, no end).
- `log_prob`, `perplexity`, `bits_per_dim` per scored token, and the
  `perplexity` metric during `fit`.
- `generate(prompt=..., num_samples, max_length, sampler, temperature, seed,
  use_cache, stop_token_ids)`: text or id prompts, keras_ar samplers (seeded
  uniforms, same tokens on both paths) and keras-hub sampler objects, beam
  search, stop tokens; `next_token_probs` (the book's table).
- A tokenizer that travels with the model (see "Tokenizer protocol"):
  attached with `attach_tokenizer` or the `tokenizer=` argument, it is
  serialized in `get_config()` and its assets (the vocabulary) are written
  into the `.keras` file, so `keras.saving.load_model(path)` gives back a
  model whose `generate("Recipe for")` works with no side files.

Subclass contract
-----------------
Call `super().__init__(vocab_size=..., sequence_length=..., pad_token_id=...,
tokenizer=..., **kwargs)`; in `get_config` start from `super().get_config()`
(it holds those four) and add the subclass's own arguments.

- `call(inputs, training=False)`: int `(B, T)` -> logits `(B, T,
  vocab_size)`, where the logits at position t depend on x_<t only (the
  first position is predicted from a start state or token).
- `_init_cache(x, prompt_length)`: the cache before the generation step at
  position `prompt_length`: a dict of tensors, each with the batch on axis 0
  (beam search reorders them along it) and a shape that generation does not
  change. `x` is int32 `(B, max_length)` holding the prompt in its first
  `prompt_length` columns; `prompt_length` is a Python int (it may be 0).
  Called once per `generate`, outside the compiled loop.
- `_cached_logits(i, x, cache)`: `(logits, cache)`: float `(B, vocab_size)`
  logits of position `i` (a scalar int32 tensor) given `x[:, :i]`, and the
  updated cache, doing only the work that position adds. It must equal
  `self(x)[:, i]` (tests check cached == uncached).
- Optional: `_uncached_logits(i, x)` (default: the full call at position
  `i`) and `max_generation_length` (default None: any `max_length`; e.g. a
  Transformer with learned positions returns `sequence_length`).

Tokenizer protocol
------------------
See `keras_ar.models.text_tokenizer`: `get_vocabulary()`, `tokenize(text)`
(or a call on a list of texts), optionally `detokenize(ids)`, and Keras
serialization, with optional `save_assets`/`load_assets` for the vocabulary
(`keras.layers.TextVectorization` and keras-hub tokenizers follow it).
"""

import keras
import numpy as np
from keras import ops

from keras_ar import samplers as samplers_lib
from keras_ar.backend import compile_loop
from keras_ar.backend.slicing import loop_slice_update, skip_when
from keras_ar.generation import draw_noise, loop_state_bytes, run_in_chunks
from keras_ar.metrics import NegativeLogLikelihood
from keras_ar.models.base import AutoregressiveModel
from keras_ar.models.text_tokenizer import (
    decode_ids,
    encode_text,
    serialize_tokenizer,
    vocabulary_of,
)
from keras_ar.ops.categorical import categorical_log_prob
from keras_ar.samplers.beam_sampler import BeamSampler
from keras_ar.samplers.keras_hub_samplers import (
    generate_with_keras_hub,
    keras_hub_sampler,
)
from keras_ar.validation import check_int, check_positive_float, to_numpy


class TextAutoregressiveModel(AutoregressiveModel):
    """Base class of keras_ar's language models. Not used directly.

    Args:
        vocab_size: int >= 2: the number of token ids (the model's `levels`).
        sequence_length: int >= 1 or None: the length of training sequences
            (the `event_shape`); None accepts any length. It is also the
            default `max_length` of `generate`.
        pad_token_id: int or None: the padding token, whose first occurrence
            ends a text (scored as the end-of-text token; later positions are
            masked). None scores every position and never ends a text.
        tokenizer: optional tokenizer (see the module docstring), saved with
            the model.
        start_token_id: int or None: the token whose embedding is fed at
            position 0; None: the family's learned start embedding.
        **kwargs: `keras.Model` arguments (e.g. `name`).
    """

    def __init__(
        self,
        vocab_size,
        sequence_length=None,
        pad_token_id=0,
        tokenizer=None,
        start_token_id=None,
        **kwargs,
    ):
        check_int("vocab_size", vocab_size, minimum=2)
        if sequence_length is not None:
            check_int("sequence_length", sequence_length, minimum=1)
        for name, token in (
            ("pad_token_id", pad_token_id),
            ("start_token_id", start_token_id),
        ):
            if token is not None:
                check_int(name, token, minimum=0, maximum=vocab_size - 1)
        super().__init__(levels=vocab_size, event_shape=(sequence_length,), **kwargs)
        self.vocab_size = int(vocab_size)
        self.sequence_length = None if sequence_length is None else int(sequence_length)
        self.pad_token_id = None if pad_token_id is None else int(pad_token_id)
        self.start_token_id = None if start_token_id is None else int(start_token_id)
        self.perplexity_metric = NegativeLogLikelihood(unit="perplexity")
        # Not a tracked sublayer (it is no part of the network), but an
        # attribute: Keras' saving walks attributes, so the tokenizer's
        # assets are written to and read from the `.keras` file.
        object.__setattr__(self, "_tokenizer", None)
        if isinstance(tokenizer, dict):
            # From a saved config: the vocabulary may come later, with the
            # tokenizer's assets, so it is not checked here.
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
            object.__setattr__(self, "_tokenizer", tokenizer)
        elif tokenizer is not None:
            self.attach_tokenizer(tokenizer)

    @property
    def end_token_id(self):
        """The end-of-text token: the pad token (None if there is none)."""
        return self.pad_token_id

    @property
    def max_generation_length(self):
        """The longest `max_length` `generate` accepts (None: any)."""
        return None

    # ------------------------------------------------------------------
    # Likelihood
    def token_mask(self, x):
        """float32 `(B, T)`: 1 for the scored positions: every token before
        the first pad, and the first pad itself (the end of the text); all
        positions when `pad_token_id` is None."""
        if self.pad_token_id is None:
            return ops.ones(ops.shape(x), "float32")
        not_pad = ops.cast(
            ops.not_equal(ops.cast(x, "int32"), self.pad_token_id), "float32"
        )
        # 1 up to the last token before the first pad; whatever follows the
        # first pad is never scored.
        before = ops.cumprod(not_pad, axis=1)
        first = ops.ones_like(before[:, :1])
        # Shifting by one position adds the first pad: the end is a target.
        return ops.concatenate([first, before[:, :-1]], axis=1)

    def element_log_probs(self, x, outputs):
        return categorical_log_prob(outputs, x) * self.token_mask(x)

    def log_prob_and_dims(self, x, outputs):
        log_p = self.element_log_probs(x, outputs)
        return ops.sum(log_p, axis=1), ops.sum(self.token_mask(x), axis=1)

    def update_extra_metrics(self, nats, dims):
        self.perplexity_metric.update_state(nats, dims)

    def bits_per_dim(self, x, labels=None, batch_size=128):
        """Mean negative log-likelihood of `x` in bits per scored token
        (the end of each text counts as a token)."""
        x = self.validate_x(x)
        log_prob = self.log_prob(x, batch_size=batch_size)
        dims = ops.convert_to_numpy(self.token_mask(x)).sum()
        return float(-log_prob.sum() / max(dims, 1.0) / np.log(2.0))

    def perplexity(self, x, batch_size=128):
        """exp(nats per scored token) of `x`, as `fit` reports it."""
        return float(2.0 ** self.bits_per_dim(x, batch_size=batch_size))

    # ------------------------------------------------------------------
    # Tokenizer
    def attach_tokenizer(self, tokenizer):
        """Attaches a tokenizer for text prompts and decoded outputs.

        It is saved with the model (config and assets). See the module
        docstring for the protocol; `keras.layers.TextVectorization` and
        keras-hub tokenizers follow it.

        Args:
            tokenizer: the tokenizer, or None to detach it.
        Returns:
            the model.
        """
        if tokenizer is not None:
            vocabulary = vocabulary_of(tokenizer)
            if len(vocabulary) > self.vocab_size:
                raise ValueError(
                    f"The tokenizer's vocabulary has {len(vocabulary)} entries, "
                    f"more than the model's vocab_size={self.vocab_size}"
                )
        object.__setattr__(self, "_tokenizer", tokenizer)
        return self

    @property
    def tokenizer(self):
        return self._tokenizer

    def _require_tokenizer(self, what):
        if self._tokenizer is None:
            raise ValueError(
                f"{what} needs a tokenizer: call model.attach_tokenizer("
                "tokenizer) first (or pass token ids)."
            )
        return self._tokenizer

    def encode(self, text):
        """Token ids (int32 NumPy `(P,)`) of one text, pads dropped."""
        tok = self._require_tokenizer("A text prompt")
        return encode_text(tok, text, self.pad_token_id)

    def decode(self, token_ids):
        """Text of token ids, with the tokenizer.

        The text ends at its first pad (the end token). A `(N, T)` array
        gives a list of N strings, a `(T,)` one a string.
        """
        tok = self._require_tokenizer("decode")
        ids = np.asarray(token_ids)
        if ids.ndim == 2:
            return [self.decode(row) for row in ids]
        return decode_ids(tok, ids, self.pad_token_id)

    # ------------------------------------------------------------------
    # Generation hooks (see the module docstring)
    def _init_cache(self, x, prompt_length):
        raise NotImplementedError

    def _cached_logits(self, i, x, cache):
        raise NotImplementedError

    def _uncached_logits(self, i, x):
        return ops.take(self(x, training=False), i, axis=1)

    # ------------------------------------------------------------------
    # Generation
    def _prompt_ids(self, prompt, num_samples):
        """`(is_text, ids)`: the prompt as int32 `(num_samples, P)`."""
        if prompt is None:
            return False, np.zeros((num_samples, 0), "int32")
        is_text = isinstance(prompt, str) or (
            isinstance(prompt, (list, tuple))
            and len(prompt) > 0
            and all(isinstance(p, str) for p in prompt)
        )
        if is_text:
            texts = [prompt] if isinstance(prompt, str) else list(prompt)
            encoded = [self.encode(t) for t in texts]
            if len({len(e) for e in encoded}) != 1:
                raise ValueError(
                    "Text prompts of one call must have the same number of "
                    f"tokens, got {[len(e) for e in encoded]}"
                )
            ids = np.stack(encoded)
        else:
            if isinstance(prompt, (int, np.integer)):
                raise TypeError(
                    "`prompt` must be text or a sequence of token ids, got the "
                    f"int {prompt!r} (pass num_samples= by keyword)"
                )
            ids = to_numpy(prompt)
            if ids.ndim == 1:
                ids = ids[None]
            if ids.ndim != 2:
                raise ValueError(
                    "`prompt` must be token ids of shape (P,) or (N, P), got "
                    f"shape {ids.shape}"
                )
            if ids.size and not np.issubdtype(ids.dtype, np.integer):
                raise ValueError(
                    f"`prompt` must hold integer token ids, got dtype {ids.dtype}"
                )
            if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
                raise ValueError(
                    f"`prompt` token ids must be in [0, {self.vocab_size}) "
                    f"(vocab_size), got {ids.min()}..{ids.max()}"
                )
        if len(ids) not in (1, num_samples):
            raise ValueError(
                f"`prompt` holds {len(ids)} prompts; pass one, or num_samples="
                f"{len(ids)}"
            )
        ids = np.broadcast_to(ids, (num_samples, ids.shape[1]))
        return is_text, np.ascontiguousarray(ids, dtype="int32")

    def generate(
        self,
        prompt=None,
        num_samples=1,
        max_length=None,
        sampler="random",
        temperature=1.0,
        top_k=None,
        top_p=None,
        num_beams=None,
        stop_token_ids="auto",
        seed=None,
        use_cache=True,
        labels=None,
        batch_size=None,
        verbose="auto",
    ):
        """Generates texts, one token at a time, each until its end.

        Args:
            prompt: None (start from nothing), token ids `(P,)` or
                `(num_samples or 1, P)`, or, with a tokenizer attached, a
                string (or a list of strings with as many tokens each).
            num_samples: sequences per prompt (>= 1).
            max_length: total length of each output, prompt included
                (default: `sequence_length`).
            sampler: "random", "greedy", "top_k", "top_p", "beam", a
                `keras_ar.samplers.Sampler`, or a keras-hub sampler object
                (`keras_hub.samplers.TopPSampler(p=0.9)`, ...; it draws with
                its own seed and temperature, and `seed` is unused).
            temperature: > 0; divides the logits.
            top_k: k of "top_k" (default 5); an optional cut for "top_p".
            top_p: p of "top_p" (default 0.9).
            num_beams: beam width of "beam" (default 4).
            stop_token_ids: "auto" (the default) ends a text at the
                end-of-text token (`pad_token_id`; none if it is None); a list
                of token ids ends it at any of those instead; None never
                ends a text early (the end token is then drawn like any
                other). A stop token is kept and every later position is
                `pad_token_id` (0 if None); the loop ends once every text
                has stopped.
            seed: int; the same seed gives the same samples, on both paths
                and every backend (keras_ar samplers: the uniforms are drawn
                up front with NumPy and spent by inverse CDF).
            use_cache: True computes only what each new token adds (e.g. a
                recurrent state step); False reruns the whole prefix per
                step (the reference path).
            labels: unused (the model is not class-conditional); must be None.
            batch_size: texts drawn together in one loop (None: a default
                that bounds memory); the samples do not depend on it
                (keras_ar samplers).
            verbose: "auto" (a progress bar for long runs), 1 or 0.
        Returns:
            int32 NumPy `(num_samples, max_length)`; a list of strings when
            the prompt is text; for a beam sampler with
            `return_all_beams=True`, `(sequences, scores)` of shapes
            `(num_samples, num_beams, max_length)` and `(num_samples,
            num_beams)` (scores: summed log-probabilities of the generated
            tokens, best first).
        """
        check_int("num_samples", num_samples, minimum=1)
        temperature = check_positive_float("temperature", temperature)
        self.validate_labels(labels, num_samples)
        hub_sampler = keras_hub_sampler(sampler)
        if hub_sampler is None:
            sampler = samplers_lib.get(
                sampler, top_k=top_k, top_p=top_p, num_beams=num_beams
            )
            sampler.validate(self.vocab_size)
        else:
            given = [
                n
                for n, v in (("top_k", top_k), ("top_p", top_p), ("num_beams", num_beams))
                if v is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(f'`{n}`' for n in given)} given along with the "
                    f"keras-hub sampler {type(sampler).__name__}: set them in "
                    "its constructor."
                )
        is_text, prompt_ids = self._prompt_ids(prompt, num_samples)
        prompt_length = prompt_ids.shape[1]
        max_length = self._check_max_length(max_length, prompt_length)
        stop_ids = self._check_stop_ids(stop_token_ids)

        fill = 0 if self.pad_token_id is None else self.pad_token_id
        x0 = np.full((num_samples, max_length), fill, "int32")
        x0[:, :prompt_length] = prompt_ids
        if hub_sampler is not None:
            result = generate_with_keras_hub(
                self,
                hub_sampler, x0, prompt_length, stop_ids, fill, temperature, use_cache
            )
        else:
            result = self._generate_with_keras_ar(
                sampler, x0, prompt_length, stop_ids, fill, temperature, use_cache,
                seed, batch_size=batch_size, verbose=verbose,
            )  # fmt: skip
        if isinstance(result, tuple):
            x, scores = result
            flat = x.reshape(-1, max_length)
            return (self.decode(flat) if is_text else x), scores
        return self.decode(result) if is_text else result

    def _check_max_length(self, max_length, prompt_length):
        limit = self.max_generation_length
        if max_length is None:
            if self.sequence_length is None:
                raise ValueError(
                    "`max_length` is required: the model has no sequence_length"
                )
            max_length = max(self.sequence_length, prompt_length)
        check_int("max_length", max_length, minimum=max(prompt_length, 1))
        if limit is not None and max_length > limit:
            raise ValueError(
                f"`max_length` (prompt included) must be <= {limit} for "
                f"{type(self).__name__}, got {max_length}"
            )
        return max_length

    def _check_stop_ids(self, stop_token_ids):
        if isinstance(stop_token_ids, str):
            if stop_token_ids != "auto":
                raise ValueError(
                    "`stop_token_ids` must be 'auto', None or token ids, got "
                    f"{stop_token_ids!r}"
                )
            return () if self.end_token_id is None else (self.end_token_id,)
        if stop_token_ids is None:
            return ()
        if isinstance(stop_token_ids, (int, np.integer)):
            stop_token_ids = (stop_token_ids,)
        ids = tuple(
            check_int("stop_token_ids", t, minimum=0, maximum=self.vocab_size - 1)
            for t in stop_token_ids
        )
        return tuple(sorted(set(ids)))

    # keras_ar samplers: one compiled loop fed pre-drawn uniforms, in
    # chunks of prompts (keras_ar.generation) whose samples do not depend on
    # the chunking.
    def _generate_with_keras_ar(
        self, sampler, x0, prompt_length, stop_ids, fill, temperature, use_cache,
        seed, batch_size=None, verbose="auto",
    ):  # fmt: skip
        num_samples, max_length = x0.shape
        noise = draw_noise(seed, max_length, num_samples, sampler.noise_width)
        beam = isinstance(sampler, BeamSampler)
        beams = sampler.num_beams if beam else 1
        key = ("text", bool(use_cache), sampler.cache_key, stop_ids, fill)
        if key not in self._generation_loops:
            step = self._make_step(sampler, bool(use_cache), stop_ids, fill)
            self._generation_loops[key] = compile_loop(
                self,
                step,
                torch_compile=bool(use_cache),
                finished=None if not stop_ids else lambda s: ops.all(s["done"]),
            )
        loop = self._generation_loops[key]

        def initial_state(rows):
            x = ops.convert_to_tensor(np.repeat(x0[rows], beams, axis=0), "int32")
            state = {"x": x, "done": ops.zeros((ops.shape(x)[0],), "bool")}
            if use_cache:
                state["cache"] = self._init_cache(x, prompt_length)
            if beam:
                state["scores"] = sampler.initial_scores(len(rows))
            return state

        def run_chunk(rows, progress):
            state = initial_state(rows)
            if prompt_length < max_length:
                state = progress.run_steps(
                    loop,
                    state,
                    ops.convert_to_tensor(noise[:, rows]),
                    prompt_length,
                    max_length,
                    temperature,
                )
            x = ops.convert_to_numpy(state["x"]).astype("int32")
            if not beam:
                return x
            x = x.reshape(len(rows), beams, max_length)
            if sampler.return_all_beams:
                return x, ops.convert_to_numpy(state["scores"]).astype("float64")
            return x[:, 0]

        return run_in_chunks(
            run_chunk,
            num_samples,
            batch_size,
            max_length - prompt_length,
            verbose,
            lambda: loop_state_bytes(initial_state(np.zeros((1,), "int64"))),
        )

    # The base class's generation hooks: what an exported `generate` runs
    # in the graph (keras_ar/export/): the random sampler, each text ended
    # at its end token as `generate` does by default, and a prompt given
    # per sample through `given_steps` (`_serving_prefix`).
    def _generation_setup(self, num_samples, max_length=None):
        max_length = self._check_max_length(max_length, 0)
        fill = 0 if self.pad_token_id is None else self.pad_token_id
        return np.full((num_samples, max_length), fill, "int32"), 0, max_length

    def _generation_state(self, x0, labels, use_cache):
        x = ops.convert_to_tensor(x0, "int32")
        state = {"x": x, "done": ops.zeros((ops.shape(x)[0],), "bool")}
        if use_cache:
            state["cache"] = self._init_cache(x, 0)
        return state

    def _generation_step(self, i, state, noise_i, temperature, use_cache):
        fill = 0 if self.pad_token_id is None else self.pad_token_id
        stop_ids = self._check_stop_ids("auto")
        step = self._make_step(samplers_lib.get("random"), use_cache, stop_ids, fill)
        return step(i, state, noise_i, temperature)

    def _serving_prefix(self):
        return ("prompt", "prompt_length", 1)

    def _make_step(self, sampler, use_cache, stop_ids, fill):
        """The loop body `step(i, state, noise_i, temperature) -> state`."""
        beam = isinstance(sampler, BeamSampler)
        stop = None if not stop_ids else ops.convert_to_tensor(stop_ids, "int32")

        def logits_at(i, state):
            if not use_cache:
                return self._uncached_logits(i, state["x"]), state
            logits, cache = self._cached_logits(i, state["x"], state["cache"])
            return logits, {**state, "cache": cache}

        def advance(i, state, noise_i, temperature):
            logits, state = logits_at(i, state)
            if beam:
                k = sampler.num_beams
                batch = ops.shape(state["scores"])[0]
                scores, parent, tokens = sampler.select(
                    state["scores"],
                    ops.reshape(logits, (batch, k, -1)),
                    temperature,
                    finished=ops.reshape(state["done"], (batch, k)),
                    pad_token_id=fill,
                )
                # Reorder the beams (ids, caches, stop flags) to follow
                # their parents.
                rows = ops.reshape(
                    ops.arange(batch, dtype="int32")[:, None] * k + parent, (-1,)
                )
                state = keras.tree.map_structure(
                    lambda value: ops.take(value, rows, axis=0),
                    {key: v for key, v in state.items() if key != "scores"},
                )
                state["scores"] = scores
                tokens = ops.reshape(tokens, (-1,))
            else:
                tokens = sampler(logits, noise_i[:, 0], temperature)
            if "given_steps" in state:
                # A prompt given per sample (the exported `generate_from_prefix`): its
                # tokens are kept, and still feed the cache.
                given = ops.take(state["x"], i, axis=1)
                tokens = ops.where(i < state["given_steps"], given, tokens)
            done = state["done"]
            tokens = ops.where(done, fill, ops.cast(tokens, "int32"))
            if stop is not None:
                hit = ops.any(ops.equal(tokens[:, None], stop[None, :]), axis=1)
                done = ops.logical_or(done, hit)
            x = loop_slice_update(state["x"], [0, i], ops.reshape(tokens, (-1, 1)))
            return {**state, "x": x, "done": done}

        if stop is None:
            return advance

        def step(i, state, noise_i, temperature):
            # Once every sequence has stopped the remaining steps do nothing
            # (the rest of `x` already holds the padding).
            return skip_when(
                ops.all(state["done"]),
                state,
                lambda: advance(i, state, noise_i, temperature),
                kept=("x", "done", "scores"),
            )

        return step

    def next_token_probs(self, prompt=None, top=10, temperature=1.0):
        """The most likely next tokens after a prompt, as the book shows them.

        Args:
            prompt: text (with a tokenizer attached), token ids `(P,)`, or
                None (the distribution of the first token).
            top: how many tokens to list (>= 1).
            temperature: > 0; divides the logits before the softmax.
        Returns:
            a list of `(token, probability)` pairs, most likely first; the
            token is a string when a tokenizer is attached, else an int id.
        """
        check_int("top", top, minimum=1)
        temperature = check_positive_float("temperature", temperature)
        _, ids = self._prompt_ids(prompt, 1)
        # A dummy token after the prompt: the logits at that position depend
        # on the prompt only.
        x = np.concatenate([ids, np.zeros((1, 1), "int32")], axis=1)
        logits = ops.convert_to_numpy(self._uncached_logits(ids.shape[1], x))[0]
        logits = logits.astype("float64") / temperature
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")[: min(top, self.vocab_size)]
        if self._tokenizer is not None:
            vocab = vocabulary_of(self._tokenizer)
            return [
                (vocab[t] if t < len(vocab) else int(t), float(probs[t])) for t in order
            ]
        return [(int(t), float(probs[t])) for t in order]

    # ------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "sequence_length": self.sequence_length,
                "pad_token_id": self.pad_token_id,
                "start_token_id": self.start_token_id,
                "tokenizer": serialize_tokenizer(self._tokenizer),
            }
        )
        return config
