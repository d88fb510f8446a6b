"""`RecurrentLM`: the word-level LSTM language model of Generative Deep
Learning (2nd ed., ch. 5), with a start state, masked padding and samplers.

The model factorizes a token sequence as
p(x_0, ..., x_{T-1}) = prod_t p(x_t | x_<t): the input is shifted right by
one position and a learned start embedding (or the embedding of a start
token) is fed at position 0, so the logits at t depend on x_<t only and the
first token is predicted too. The book's model instead predicts x_{t+1} from
x_<=t and never scores x_0.
"""

import keras
import numpy as np
from keras import ops

from keras_ar import samplers as samplers_lib
from keras_ar.backend import compile_loop
from keras_ar.backend.slicing import loop_slice_update
from keras_ar.generation import draw_noise, loop_state_bytes, run_in_chunks
from keras_ar.metrics import NegativeLogLikelihood
from keras_ar.models.base import AutoregressiveModel
from keras_ar.ops.categorical import categorical_log_prob
from keras_ar.samplers.beam_sampler import BeamSampler
from keras_ar.validation import (
    check_choice,
    check_int,
    check_positive_float,
    to_numpy,
)

_CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}


@keras.saving.register_keras_serializable(package="keras_ar")
class RecurrentLM(AutoregressiveModel):
    """Word-level recurrent language model (the book's LSTM, ch. 5).

    Embedding -> `num_layers` LSTM (or GRU) layers -> a dense layer with
    `vocab_size` logits. The input is shifted right by one and a learned
    start embedding (or the embedding of `start_token_id`) fills position 0,
    so that the logits at position t predict x_t from x_<t. Hence
    `exp(log_prob(x))` is a proper distribution over all sequences of a
    given length when `pad_token_id` is None.

    Padding. Unlike the book, padding is masked out of the likelihood: with
    `pad_token_id` set, a sequence ends at its first pad token, and
    `log_prob_and_dims` returns the log-likelihood of the tokens before it
    and their count as `dims`. So `log_prob` is the likelihood of the
    unpadded tokens (not of the end of the sequence), the training loss is
    nats per real token, and `fit` reports `perplexity` = exp(nats per real
    token) next to `bits_per_dim`. Padding is expected at the end (as
    `TextVectorization` produces it); the recurrent state then never sees a
    pad before a scored token, so no Keras mask is needed.

    Generation. `generate` draws token ids with a sampler ("random",
    "greedy", "top_k", "top_p", "beam" or a `keras_ar.samplers.Sampler`),
    optionally from a prompt and until stop tokens. The cached path carries
    the recurrent state from step to step (one cell step per token; the
    prompt is consumed in one pass), the uncached path reruns the whole
    prefix at every step; both use the same cell weights and, for the same
    seed, give the same tokens.

    Text. A tokenizer, such as the book's `keras.layers.TextVectorization`
    (anything with `get_vocabulary()`), can be attached with
    `attach_tokenizer`; `generate` and `next_token_probs` then accept text
    prompts and return text. The tokenizer is not part of the `.keras` file:
    attach it again after loading.

    Args:
        vocab_size: int >= 2: the number of token ids (the model's `levels`).
        sequence_length: int >= 1 or None: the length of training sequences
            (the `event_shape`); None accepts any length. It is also the
            default `max_length` of `generate`.
        embedding_dim: int >= 1: token embedding size (book: 100).
        units: int >= 1: recurrent units per layer (book: 128).
        cell: "lstm" or "gru".
        num_layers: int >= 1: stacked recurrent layers.
        dropout: float in [0, 1): dropout on the inputs of every recurrent
            layer and on the last layer's outputs, in training only.
        pad_token_id: int or None: the padding token (0 for
            `TextVectorization`), masked out of the likelihood. None scores
            every position.
        start_token_id: int or None: if set, position 0 is fed the embedding
            of this token; if None, a learned start embedding.
        **kwargs: `keras.Model` arguments (e.g. `name`).

    Example:
    ```python
    import numpy as np
    from keras_ar.models.recurrent_lm import RecurrentLM

    x = np.random.randint(1, 50, size=(64, 12))
    x[:, 9:] = 0  # padding after 9 tokens
    model = RecurrentLM(vocab_size=50, sequence_length=12, units=32)
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=16, verbose=0)  # loss, perplexity
    model.log_prob(x[:2])  # nats of the 9 real tokens of each row
    model.generate(prompt=[5, 7], num_samples=3, sampler="top_k", top_k=5,
                   temperature=0.8, seed=0)  # (3, 12) int32 ids
    ```
    """

    def __init__(
        self,
        vocab_size,
        sequence_length=None,
        embedding_dim=100,
        units=128,
        cell="lstm",
        num_layers=1,
        dropout=0.0,
        pad_token_id=0,
        start_token_id=None,
        **kwargs,
    ):
        check_int("vocab_size", vocab_size, minimum=2)
        if sequence_length is not None:
            check_int("sequence_length", sequence_length, minimum=1)
        check_int("embedding_dim", embedding_dim, minimum=1)
        check_int("units", units, minimum=1)
        check_choice("cell", cell, tuple(_CELLS))
        check_int("num_layers", num_layers, minimum=1)
        dropout = check_positive_float("dropout", dropout, allow_zero=True)
        if dropout >= 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout}")
        for name, value in (
            ("pad_token_id", pad_token_id),
            ("start_token_id", start_token_id),
        ):
            if value is not None:
                check_int(name, value, minimum=0, maximum=vocab_size - 1)
        super().__init__(levels=vocab_size, event_shape=(sequence_length,), **kwargs)
        self.vocab_size = int(vocab_size)
        self.sequence_length = None if sequence_length is None else int(sequence_length)
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.cell = cell
        self.num_layers = int(num_layers)
        self.dropout = dropout
        self.pad_token_id = None if pad_token_id is None else int(pad_token_id)
        self.start_token_id = None if start_token_id is None else int(start_token_id)
        self.perplexity_metric = NegativeLogLikelihood(unit="perplexity")
        object.__setattr__(self, "_tokenizer", None)

        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, name="embedding"
        )
        # One cell per layer, wrapped in `keras.layers.RNN` for whole
        # sequences; generation calls `rnn.cell` directly, so both paths use
        # the same weights and the same maths.
        self.recurrent_layers = [
            keras.layers.RNN(
                _CELLS[cell](units, name=f"{cell}_cell_{i}"),
                return_sequences=True,
                return_state=True,
                name=f"{cell}_{i}",
            )
            for i in range(num_layers)
        ]
        self.dropout_layers = [
            keras.layers.Dropout(dropout, name=f"dropout_{i}")
            for i in range(num_layers + 1)
        ]
        self.head = keras.layers.Dense(vocab_size, name="logits")

        # Build every weight now so that `.keras` loading and `summary()`
        # need no data.
        self.embedding.build((None, None))
        width = embedding_dim
        for rnn in self.recurrent_layers:
            rnn.build((None, None, width))
            width = units
        self.head.build((None, None, units))
        if start_token_id is None:
            self.start_embedding = self.add_weight(
                shape=(embedding_dim,),
                initializer=keras.initializers.RandomNormal(stddev=0.05),
                name="start_embedding",
            )
        self.built = True

    # ------------------------------------------------------------------
    # Network
    def call(self, inputs, training=False):
        x, _ = self.unpack_inputs(inputs)
        hidden = self._shifted_embeddings(ops.cast(x, "int32"))
        for dropout, rnn in zip(self.dropout_layers, self.recurrent_layers):
            hidden = rnn(dropout(hidden, training=training), training=training)[0]
        hidden = self.dropout_layers[-1](hidden, training=training)
        return self.head(hidden)

    def _start_vector(self, batch_size):
        """`(batch, embedding_dim)`: the input at position 0."""
        if self.start_token_id is None:
            start = ops.cast(self.start_embedding, self.compute_dtype)
            return ops.broadcast_to(start[None, :], (batch_size, self.embedding_dim))
        return self.embedding(ops.full((batch_size,), self.start_token_id, "int32"))

    def _shifted_embeddings(self, x):
        """The recurrent input for `x`: [start, emb(x_0), ..., emb(x_{T-2})]."""
        start = self._start_vector(ops.shape(x)[0])[:, None, :]
        return ops.concatenate([start, self.embedding(x[:, :-1])], axis=1)

    # ------------------------------------------------------------------
    # Likelihood
    def token_mask(self, x):
        """float32 `(B, T)`: 1 for scored tokens, i.e. those before the first
        pad token (all of them when `pad_token_id` is None)."""
        if self.pad_token_id is None:
            return ops.ones(ops.shape(x), "float32")
        not_pad = ops.cast(
            ops.not_equal(ops.cast(x, "int32"), self.pad_token_id), "float32"
        )
        # A cumulative product ends the sequence at its first pad: whatever
        # follows the padding is never scored.
        return ops.cumprod(not_pad, axis=1)

    def log_prob_and_dims(self, x, outputs):
        mask = self.token_mask(x)
        log_p = categorical_log_prob(outputs, x) * mask
        return ops.sum(log_p, axis=1), ops.sum(mask, axis=1)

    def update_extra_metrics(self, nats, dims):
        self.perplexity_metric.update_state(nats, dims)

    def bits_per_dim(self, x, labels=None, batch_size=128):
        """Mean negative log-likelihood of `x` in bits per scored token."""
        x = self.validate_x(x)
        log_prob = self.log_prob(x, batch_size=batch_size)
        dims = ops.convert_to_numpy(self.token_mask(x)).sum()
        return float(-log_prob.sum() / max(dims, 1.0) / np.log(2.0))

    def perplexity(self, x, batch_size=128):
        """exp(nats per scored token) of `x`, as `fit` reports it."""
        return float(2.0 ** self.bits_per_dim(x, batch_size=batch_size))

    # ------------------------------------------------------------------
    # Step-wise evaluation (the cached generation path)
    def get_initial_state(self, batch_size):
        """Zero recurrent states: a list (one per layer) of state lists."""
        return [
            [ops.zeros((batch_size, size), self.compute_dtype) for size in _sizes(rnn)]
            for rnn in self.recurrent_layers
        ]

    def step(self, states, previous_tokens=None):
        """One position: the logits of the next token and the new states.

        Args:
            states: from `get_initial_state` (before the first token),
                `consume_prompt` or a previous `step`.
            previous_tokens: int `(batch,)`: the token at the previous
                position; None at position 0 (the start embedding is fed).
        Returns:
            `(logits, states)`: float `(batch, vocab_size)` and the states.
        """
        batch = ops.shape(states[0][0])[0]
        if previous_tokens is None:
            inputs = self._start_vector(batch)
        else:
            inputs = self.embedding(ops.cast(previous_tokens, "int32"))
        return self._cell_step(inputs, states)

    def _cell_step(self, inputs, states):
        new_states = []
        for rnn, layer_states in zip(self.recurrent_layers, states):
            inputs, layer_states = rnn.cell(inputs, list(layer_states), training=False)
            new_states.append(list(_as_list(layer_states)))
        return self.head(inputs), new_states

    def consume_prompt(self, prompt):
        """Runs the prompt through the network in one pass.

        Args:
            prompt: int `(batch, P)` with P >= 1.
        Returns:
            the states after positions 0..P-1, that is, having read the start
            input and x_0..x_{P-2}: `step(states, prompt[:, -1])` then gives
            the logits of position P.
        """
        hidden = self._shifted_embeddings(ops.cast(prompt, "int32"))
        states = []
        for rnn in self.recurrent_layers:
            outputs = rnn(hidden, training=False)
            hidden = outputs[0]
            states.append(list(outputs[1:]))
        return states

    # ------------------------------------------------------------------
    # Tokenizer
    def attach_tokenizer(self, tokenizer):
        """Attaches a tokenizer for text prompts and decoded outputs.

        Args:
            tokenizer: a `keras.layers.TextVectorization` (called on text), or
                any object with `get_vocabulary()` (or a `vocabulary` list),
                called (or `.tokenize`d) on text if it can be; otherwise
                text is lower-cased and split on whitespace. Its vocabulary
                must fit in `vocab_size`.
        Returns:
            the model.
        """
        vocabulary = _vocabulary_of(tokenizer)
        if len(vocabulary) > self.vocab_size:
            raise ValueError(
                f"The tokenizer's vocabulary has {len(vocabulary)} entries, "
                f"more than the model's vocab_size={self.vocab_size}"
            )
        object.__setattr__(self, "_tokenizer", tokenizer)
        object.__setattr__(self, "_vocabulary", list(vocabulary))
        return self

    @property
    def tokenizer(self):
        return self._tokenizer

    def encode(self, text):
        """Token ids (int32 NumPy `(P,)`) of one text, with the tokenizer."""
        if self._tokenizer is None:
            raise ValueError(
                "A text prompt needs a tokenizer: call "
                "model.attach_tokenizer(vectorizer) first, or pass token ids."
            )
        tok = self._tokenizer
        if hasattr(tok, "tokenize"):
            ids = to_numpy(tok.tokenize(text))
        elif callable(tok):
            ids = to_numpy(tok([text]))[0]
        else:
            index = {word: i for i, word in enumerate(self._vocabulary)}
            unknown = index.get("[UNK]")
            ids = []
            for word in text.lower().split():
                if word not in index and unknown is None:
                    raise ValueError(f"{word!r} is not in the tokenizer's vocabulary")
                ids.append(index.get(word, unknown))
            ids = np.asarray(ids, "int32")
        ids = np.asarray(ids).reshape(-1).astype("int32")
        # A vectorizer with `output_sequence_length` pads its output; the
        # prompt is the tokens before that padding.
        if self.pad_token_id is not None:
            ids = ids[np.cumprod(ids != self.pad_token_id).astype(bool)]
        return ids

    def decode(self, token_ids):
        """Text of token ids, with the tokenizer's vocabulary.

        Pad tokens are dropped. A `(N, T)` array gives a list of N strings,
        a `(T,)` one a string.
        """
        if self._tokenizer is None:
            raise ValueError("decode needs a tokenizer: call attach_tokenizer first.")
        ids = np.asarray(token_ids)
        if ids.ndim == 2:
            return [self.decode(row) for row in ids]
        vocab = self._vocabulary
        words = [
            vocab[t] if t < len(vocab) else "[UNK]"
            for t in ids.tolist()
            if t != self.pad_token_id
        ]
        return " ".join(words)

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
        stop_token_ids=None,
        seed=None,
        use_cache=True,
        labels=None,
        batch_size=None,
        verbose="auto",
    ):
        """Generates token sequences, one token at a time.

        Args:
            prompt: None (start from nothing), token ids `(P,)` or
                `(num_samples or 1, P)`, or, with a tokenizer attached, a
                string (or a list of strings with as many tokens each).
            num_samples: sequences per prompt (>= 1).
            max_length: total length of each output, prompt included
                (default: `sequence_length`).
            sampler: "random", "greedy", "top_k", "top_p", "beam", or a
                `keras_ar.samplers.Sampler`.
            temperature: > 0; divides the logits.
            top_k: k of "top_k" (default 5); an optional cut for "top_p".
            top_p: p of "top_p" (default 0.9).
            num_beams: beam width of "beam" (default 4).
            stop_token_ids: token ids that end a sequence: the stop token is
                kept, every later position is `pad_token_id` (0 if None),
                and the loop ends once every sequence has stopped.
            seed: int; the same seed gives the same samples. The uniforms
                are drawn up front with NumPy and spent by inverse CDF, so
                both paths make the same choices.
            use_cache: True carries the recurrent state step to step (one
                cell step per token); False reruns the whole prefix per step
                (the reference path).
            labels: unused (the model is not class-conditional); must be None.
            batch_size: prompts drawn together in one loop (None: a default
                that bounds memory); the samples do not depend on it.
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
        sampler = samplers_lib.get(
            sampler, top_k=top_k, top_p=top_p, num_beams=num_beams
        )
        sampler.validate(self.vocab_size)
        is_text, prompt_ids = self._prompt_ids(prompt, num_samples)
        prompt_length = prompt_ids.shape[1]
        if max_length is None:
            if self.sequence_length is None:
                raise ValueError(
                    "`max_length` is required: the model has no sequence_length"
                )
            max_length = max(self.sequence_length, prompt_length)
        check_int("max_length", max_length, minimum=max(prompt_length, 1))
        stop_ids = self._check_stop_ids(stop_token_ids)

        fill = 0 if self.pad_token_id is None else self.pad_token_id
        x0 = np.full((num_samples, max_length), fill, "int32")
        x0[:, :prompt_length] = prompt_ids
        noise = draw_noise(seed, max_length, num_samples, sampler.noise_width)
        beam = isinstance(sampler, BeamSampler)
        beams = sampler.num_beams if beam else 1
        key = ("recurrent", bool(use_cache), sampler.cache_key, stop_ids, fill)
        if key not in self._generation_loops:
            step = self._make_step(sampler, bool(use_cache), stop_ids, fill)
            self._generation_loops[key] = compile_loop(self, step)
        loop = self._generation_loops[key]

        def initial_state(rows):
            state = self._initial_generation_state(
                np.repeat(x0[rows], beams, axis=0), prompt_length, use_cache
            )
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

        result = run_in_chunks(
            run_chunk,
            num_samples,
            batch_size,
            max_length - prompt_length,
            verbose,
            lambda: loop_state_bytes(initial_state(np.zeros((1,), "int64"))),
        )
        if beam and sampler.return_all_beams:
            x, scores = result
            return (self.decode(x.reshape(-1, max_length)) if is_text else x), scores
        return self.decode(result) if is_text else result

    def _check_stop_ids(self, stop_token_ids):
        if stop_token_ids is None:
            return ()
        if isinstance(stop_token_ids, (int, np.integer)):
            stop_token_ids = (stop_token_ids,)
        ids = tuple(
            check_int("stop_token_ids", t, minimum=0, maximum=self.vocab_size - 1)
            for t in stop_token_ids
        )
        return tuple(sorted(set(ids)))

    def _initial_generation_state(self, x0, prompt_length, use_cache):
        state = {
            "x": ops.convert_to_tensor(x0, "int32"),
            "done": ops.zeros((x0.shape[0],), "bool"),
        }
        if use_cache:
            if prompt_length >= 1:
                # The loop's first step reads the prompt's last token.
                states = self.consume_prompt(x0[:, :prompt_length])
            else:
                states = self.get_initial_state(x0.shape[0])
            for layer, layer_states in enumerate(states):
                for j, s in enumerate(layer_states):
                    state[f"state_{layer}_{j}"] = ops.convert_to_tensor(s)
        return state

    def _make_step(self, sampler, use_cache, stop_ids, fill):
        """The loop body `step(i, state, noise_i, temperature) -> state`."""
        beam = isinstance(sampler, BeamSampler)
        stop = None if not stop_ids else ops.convert_to_tensor(stop_ids, "int32")

        def logits_at(i, state):
            x = state["x"]
            if not use_cache:
                logits = self(x, training=False)
                return ops.take(logits, i, axis=1), state
            batch = ops.shape(x)[0]
            previous = ops.take(x, ops.maximum(i - 1, 0), axis=1)
            inputs = ops.where(
                ops.equal(i, 0),
                self._start_vector(batch),
                self.embedding(previous),
            )
            logits, states = self._cell_step(inputs, self._unpack_states(state))
            return logits, {**state, **self._pack_states(states)}

        def advance(i, state, noise_i, temperature):
            logits, state = logits_at(i, state)
            done = state["done"]
            x = state["x"]
            if beam:
                k = sampler.num_beams
                batch = ops.shape(state["scores"])[0]
                scores, parent, tokens = sampler.select(
                    state["scores"],
                    ops.reshape(logits, (batch, k, -1)),
                    temperature,
                    finished=ops.reshape(done, (batch, k)),
                    pad_token_id=fill,
                )
                # Reorder the beams (ids, states, stop flags) to follow
                # their parents.
                rows = ops.reshape(
                    ops.arange(batch, dtype="int32")[:, None] * k + parent, (-1,)
                )
                state = {
                    key: value if key == "scores" else ops.take(value, rows, axis=0)
                    for key, value in state.items()
                }
                state["scores"] = scores
                done = state["done"]
                x = state["x"]
                tokens = ops.reshape(tokens, (-1,))
            else:
                tokens = sampler(logits, noise_i[:, 0], temperature)
            tokens = ops.where(done, fill, ops.cast(tokens, "int32"))
            if stop is not None:
                hit = ops.any(ops.equal(tokens[:, None], stop[None, :]), axis=1)
                done = ops.logical_or(done, hit)
            x = loop_slice_update(x, [0, i], ops.reshape(tokens, (-1, 1)))
            return {**state, "x": x, "done": done}

        if stop is None:
            return advance

        def step(i, state, noise_i, temperature):
            # Once every sequence has stopped the remaining steps do nothing
            # (the rest of `x` already holds the padding).
            return ops.cond(
                ops.all(state["done"]),
                lambda: state,
                lambda: advance(i, state, noise_i, temperature),
            )

        return step

    def _unpack_states(self, state):
        return [
            [state[f"state_{layer}_{j}"] for j in range(len(_sizes(rnn)))]
            for layer, rnn in enumerate(self.recurrent_layers)
        ]

    def _pack_states(self, states):
        return {
            f"state_{layer}_{j}": s
            for layer, layer_states in enumerate(states)
            for j, s in enumerate(layer_states)
        }

    def next_token_probs(self, prompt=None, top=10, temperature=1.0):
        """The most likely next tokens after a prompt, as the book shows them.

        Args:
            prompt: text (with a tokenizer attached), token ids `(P,)`, or
                None (the distribution of the first token).
            top: how many tokens to list (>= 1).
            temperature: > 0; divides the logits before the softmax.
        Returns:
            a list of `(token, probability)` pairs, most likely first; the
            token is a word when a tokenizer is attached, else an int id.
        """
        check_int("top", top, minimum=1)
        temperature = check_positive_float("temperature", temperature)
        _, ids = self._prompt_ids(prompt, 1)
        # A dummy token after the prompt: the logits at that position depend
        # on the prompt only.
        x = np.concatenate([ids, np.zeros((1, 1), "int32")], axis=1)
        logits = ops.convert_to_numpy(self(x, training=False))[0, -1].astype("float64")
        logits = logits / temperature
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")[: min(top, self.vocab_size)]
        if self._tokenizer is not None:
            vocab = self._vocabulary
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
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "cell": self.cell,
                "num_layers": self.num_layers,
                "dropout": self.dropout,
                "pad_token_id": self.pad_token_id,
                "start_token_id": self.start_token_id,
            }
        )
        return config


def _sizes(rnn):
    size = rnn.cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


def _as_list(states):
    return states if isinstance(states, (list, tuple)) else [states]


def _vocabulary_of(tokenizer):
    if hasattr(tokenizer, "get_vocabulary"):
        return list(tokenizer.get_vocabulary())
    vocabulary = getattr(tokenizer, "vocabulary", None)
    if isinstance(vocabulary, (list, tuple)):
        return list(vocabulary)
    raise TypeError(
        "The tokenizer must have `get_vocabulary()` (like "
        "keras.layers.TextVectorization) or a `vocabulary` list, got "
        f"{type(tokenizer).__name__}"
    )
