"""`TransformerLM`: a decoder-only causal Transformer language model (GPT-2
style: Radford et al., 2019) built from keras-hub's
`TokenAndPositionEmbedding` and `TransformerDecoder` layers."""

import keras
from keras import ops

from keras_ar._signatures import shows_arguments_of
from keras_ar.backend import no_grad
from keras_ar.models._transformer import TransformerArgs, transformer_trunk
from keras_ar.models.text_model import TextAutoregressiveModel
from keras_ar.optional import import_keras_hub


@keras.saving.register_keras_serializable(package="keras_ar")
@shows_arguments_of(TransformerArgs.__init__, TextAutoregressiveModel.__init__)
class TransformerLM(TransformerArgs, TextAutoregressiveModel):
    """Decoder-only Transformer language model.

    keras-hub `TokenAndPositionEmbedding` (token + learned position
    embeddings) -> dropout -> `num_layers` pre-LN keras-hub
    `TransformerDecoder` blocks without cross-attention
    (`CausalTransformerStack`) -> logits over `vocab_size`, by default
    through the transposed token embedding (`tie_weights`, as GPT-2). The
    input is shifted right by one and a start token fills position 0 (an
    extra learned embedding row, or `start_token_id`), so that the logits at
    position t predict x_t from x_<t and the first token is scored too.

    The end of a text, `log_prob`, `perplexity`, `fit(x)` without targets,
    text prompts, samplers (keras_ar's and keras-hub's), stop tokens and the
    tokenizer saved with the model come from `TextAutoregressiveModel`
    (the same as `RecurrentLM`): with `pad_token_id` set, the first pad of a
    row is the end of the text, scored like a word; later positions are
    masked (and causal attention never lets a scored position read them).

    Generation. `generate(use_cache=True)` uses the decoders' key/value
    caches: the prompt is run once (filling the cache at positions
    0..P-1), then each new token is embedded at its position (`start_index`),
    writes its keys and values into the cache
    (`self_attention_cache_update_index`) and attends over it, so a token
    costs one position of work. `use_cache=False` runs the whole sequence per
    token (the reference path); both give the same tokens for the same seed.
    `max_length` is at most `sequence_length` (the learned positions).

    Args:
        vocab_size: int >= 2: token ids (the model's `levels`).
        sequence_length: int >= 1: the longest text (learned positions); the
            training sequences' length and `generate`'s default `max_length`.
        num_layers: Transformer blocks.
        num_heads: attention heads; must divide `hidden_dim`.
        hidden_dim: width of the embeddings and of the blocks.
        intermediate_dim: width of the blocks' feed-forward layers.
        dropout: float in [0, 1): dropout on the embeddings and inside the
            blocks, in training only.
        pad_token_id: int or None: the padding token, whose first occurrence
            ends a text (0, as keras-hub vocabularies with `[PAD]` first and
            `TextVectorization` produce). None scores every position.
        start_token_id: int or None: the token fed at position 0 (e.g. a
            `[BOS]` id); None adds a learned start embedding.
        tie_weights: whether the logits use the transposed token embedding.
        layer_norm_epsilon: epsilon of the layer norms.
        tokenizer: optional tokenizer saved with the model, e.g. a
            `keras_hub.tokenizers.WordPieceTokenizer` (see
            `TextAutoregressiveModel`).
        **kwargs: `keras.Model` arguments (`name`, `dtype`, ...).

    Example:

    >>> import numpy as np
    >>> x = np.random.randint(1, 20, size=(16, 8))
    >>> x[:, 6:] = 0  # each text: 6 tokens, then the end (pad 0)
    >>> model = TransformerLM(vocab_size=20, sequence_length=8, num_layers=1,
    ...                       num_heads=2, hidden_dim=16, intermediate_dim=32)
    >>> model.compile(optimizer="adam")
    >>> _ = model.fit(x, epochs=1, verbose=0)
    >>> model.log_prob(x[:2]).shape
    (2,)
    >>> model.generate(prompt=[5, 7], num_samples=3, sampler="top_k",
    ...                top_k=5, seed=0).shape
    (3, 8)
    """

    # torch.onnx cannot trace Keras' torch layer_norm (a shape becomes a
    # tensor): on torch, `export(format="onnx")` goes through TensorFlow.
    _onnx_via_tensorflow_on = ("torch",)

    def __init__(
        self, vocab_size, sequence_length, num_layers=2, *, tie_weights=True, **kwargs
    ):
        # The sizes of the stack are `TransformerArgs`'; `pad_token_id`,
        # `start_token_id` and `tokenizer` are `TextAutoregressiveModel`'s.
        keras_hub = import_keras_hub(type(self).__name__)
        if sequence_length is None:
            raise ValueError(
                "`sequence_length` is required: TransformerLM learns one "
                "position embedding per position"
            )
        super().__init__(
            num_layers, vocab_size=vocab_size, sequence_length=sequence_length, **kwargs
        )
        self.tie_weights = bool(tie_weights)
        vocab_size, sequence_length = self.vocab_size, self.sequence_length
        start_token_id = self.start_token_id

        policy = self.dtype_policy
        # Without a start token id, row `vocab_size` of the embedding is the
        # learned start embedding (its logit is dropped from the output).
        self._start_id = vocab_size if start_token_id is None else start_token_id
        self.embeddings = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary_size=vocab_size + (start_token_id is None),
            sequence_length=sequence_length,
            embedding_dim=self.hidden_dim,
            tie_weights=self.tie_weights,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="embeddings",
            dtype=policy,
        )
        self.embedding_dropout, self.transformer = transformer_trunk(self)
        # Build every weight now so that `.keras` loading and `summary()`
        # need no data.
        self(ops.zeros((1, sequence_length), "int32"))

    @property
    def max_generation_length(self):
        return self.sequence_length

    # ------------------------------------------------------------------
    # Network
    def _logits(self, hidden):
        logits = self.embeddings.token_embedding(hidden, reverse=True)
        # The start row is an input only: no probability goes to it.
        return ops.cast(logits[..., : self.vocab_size], "float32")

    def call(self, inputs, training=False):
        x, _ = self.unpack_inputs(inputs)
        x = ops.cast(x, "int32")
        start = ops.full((ops.shape(x)[0], 1), self._start_id, "int32")
        tokens = ops.concatenate([start, x[:, :-1]], axis=1)
        hidden = self.embedding_dropout(self.embeddings(tokens), training=training)
        hidden = self.transformer(hidden, training=training)
        return self._logits(hidden)

    # ------------------------------------------------------------------
    # Cached generation: the decoders' key/value caches
    def _init_cache(self, x, prompt_length):
        batch, max_length = ops.shape(x)
        kv = self.transformer.init_cache(batch, max_length)
        if prompt_length >= 1:
            # One pass over the inputs of positions 0..P-1 (the start token
            # and x_0..x_{P-2}) fills the cache there; the first cached step
            # then reads x_{P-1} at position P.
            start = ops.full((batch, 1), self._start_id, "int32")
            tokens = ops.concatenate([start, x[:, : prompt_length - 1]], axis=1)
            with no_grad():  # eager, outside the compiled loop
                _, kv = self.transformer(
                    self.embeddings(tokens), cache=kv, cache_update_index=0
                )
        return {"key_value": kv}

    def _cached_logits(self, i, x, cache):
        previous = ops.take(x, ops.maximum(i - 1, 0), axis=1)
        token = ops.where(ops.equal(i, 0), self._start_id, previous)
        # The position as a gathered row (`positions`), not a slice at a
        # tensor `start_index`: on PyTorch that slice reads the index back
        # into Python, which splits a compiled step and recompiles it at
        # every position.
        position = ops.reshape(ops.cast(i, "int32"), (1,))
        hidden = self.embeddings(ops.reshape(token, (-1, 1)), positions=position)
        hidden, kv = self.transformer.call_step(hidden, cache["key_value"], i)
        return self._logits(hidden)[:, 0], {"key_value": kv}

    # ------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "tie_weights": self.tie_weights,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
