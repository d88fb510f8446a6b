"""`RecurrentLM`: the word-level LSTM language model of Generative Deep
Learning (2nd ed., ch. 5), with a start state, a scored end of text and
samplers.

The model factorizes a token sequence as
p(x_0, ..., x_{T-1}) = prod_t p(x_t | x_<t): the input is shifted right by
one position and a learned start embedding (or the embedding of a start
token) is fed at position 0, so the logits at t depend on x_<t only and the
first token is predicted too. The book's model instead predicts x_{t+1} from
x_<=t and never scores x_0.
"""

import keras
from keras import ops

from keras_ar._signatures import shows_arguments_of
from keras_ar.backend.constants import dense_forward
from keras_ar.backend.fused_rnn import run_rnn
from keras_ar.models.text_model import TextAutoregressiveModel
from keras_ar.validation import check_choice, check_int, check_positive_float

_CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}


@keras.saving.register_keras_serializable(package="keras_ar")
@shows_arguments_of(TextAutoregressiveModel.__init__)
class RecurrentLM(TextAutoregressiveModel):
    """Word-level recurrent language model (the book's LSTM, ch. 5).

    Embedding -> `num_layers` LSTM (or GRU) layers -> a dense layer with
    `vocab_size` logits. The input is shifted right by one and a learned
    start embedding (or the embedding of `start_token_id`) fills position 0,
    so that the logits at position t predict x_t from x_<t. Hence
    `exp(log_prob(x))` is a proper distribution over all sequences of a
    given length when `pad_token_id` is None.

    The end of a text. Unlike the book, padding is not a word: with
    `pad_token_id` set (0, as `TextVectorization` pads), the first pad token
    of a row is the end of the text, scored like a word, and the positions
    after it are masked out (see `TextAutoregressiveModel`). So `log_prob`
    is a distribution over texts of up to `sequence_length` tokens, the loss
    and the `perplexity` metric are per word with the end counted, and
    `generate` ends each text when it draws the end token. Padding is
    expected at the end (as `TextVectorization` produces it); the recurrent
    state never reads a pad before a scored position, so no Keras mask is
    needed.

    Generation. `generate` draws token ids with a sampler ("random",
    "greedy", "top_k", "top_p", "beam", a `keras_ar.samplers.Sampler` or a
    keras-hub sampler), optionally from a prompt. The cached path carries
    the recurrent state from step to step (one cell step per token; the
    prompt is consumed in one pass), the uncached path reruns the whole
    prefix at every step; both use the same cell weights and, for the same
    seed, give the same tokens.

    Text. A tokenizer, such as the book's `keras.layers.TextVectorization`,
    given as `tokenizer=` or attached with `attach_tokenizer`, lets
    `generate` and `next_token_probs` take text prompts and return text. It
    is saved in the `.keras` file (its vocabulary as an asset), so a loaded
    model generates from text with no side files.

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
            `TextVectorization`); its first occurrence ends a text and is
            scored, later positions are masked. None scores every position.
        start_token_id: int or None: if set, position 0 is fed the embedding
            of this token; if None, a learned start embedding.
        tokenizer: optional tokenizer saved with the model, e.g. a fitted
            `keras.layers.TextVectorization` (see `TextAutoregressiveModel`).
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
    model.log_prob(x[:2])  # nats of the 9 tokens and the end of each row
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
        **kwargs,
    ):
        # `pad_token_id`, `start_token_id` and `tokenizer` are
        # `TextAutoregressiveModel`'s.
        check_int("vocab_size", vocab_size, minimum=2)
        check_int("embedding_dim", embedding_dim, minimum=1)
        check_int("units", units, minimum=1)
        check_choice("cell", cell, tuple(_CELLS))
        check_int("num_layers", num_layers, minimum=1)
        dropout = check_positive_float("dropout", dropout, allow_zero=True)
        if dropout >= 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout}")
        super().__init__(vocab_size, sequence_length, **kwargs)
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.cell = cell
        self.num_layers = int(num_layers)
        self.dropout = dropout

        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, name="embedding"
        )
        # One cell per layer, wrapped in `keras.layers.RNN` for whole
        # sequences (on PyTorch, `run_rnn` runs them as one native call);
        # generation calls `rnn.cell` directly, so both paths use the same
        # weights and the same maths.
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
        if self.start_token_id is None:
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
            hidden = run_rnn(rnn, dropout(hidden, training=training), training)[0]
        hidden = self.dropout_layers[-1](hidden, training=training)
        return dense_forward(self.head, hidden)

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
        return dense_forward(self.head, inputs), new_states

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
    # Generation hooks of TextAutoregressiveModel
    def _init_cache(self, x, prompt_length):
        if prompt_length >= 1:
            # The first cached step then reads the prompt's last token.
            states = self.consume_prompt(x[:, :prompt_length])
        else:
            states = self.get_initial_state(ops.shape(x)[0])
        return self._pack_states(states)

    def _cached_logits(self, i, x, cache):
        batch = ops.shape(x)[0]
        previous = ops.take(x, ops.maximum(i - 1, 0), axis=1)
        inputs = ops.where(
            ops.equal(i, 0), self._start_vector(batch), self.embedding(previous)
        )
        logits, states = self._cell_step(inputs, self._unpack_states(cache))
        return logits, self._pack_states(states)

    def _unpack_states(self, cache):
        return [
            [cache[f"state_{layer}_{j}"] for j in range(len(_sizes(rnn)))]
            for layer, rnn in enumerate(self.recurrent_layers)
        ]

    def _pack_states(self, states):
        return {
            f"state_{layer}_{j}": ops.convert_to_tensor(s)
            for layer, layer_states in enumerate(states)
            for j, s in enumerate(layer_states)
        }

    # ------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "cell": self.cell,
                "num_layers": self.num_layers,
                "dropout": self.dropout,
            }
        )
        return config


def _sizes(rnn):
    size = rnn.cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


def _as_list(states):
    return states if isinstance(states, (list, tuple)) else [states]

