"""`ImageTransformer`: an ImageGPT-style decoder-only Transformer over the
sub-pixels of an image (Chen et al., 2020, "Generative Pretraining from
Pixels"), built from keras-hub's `TransformerDecoder`."""

import keras
from keras import ops

from keras_ar._signatures import shows_arguments_of
from keras_ar.backend import no_grad
from keras_ar.backend.constants import dense_call, embedding_call
from keras_ar.backend.slicing import reshape
from keras_ar.layers.raster_position_embedding import RasterPositionEmbedding
from keras_ar.models._transformer import TransformerArgs, transformer_trunk
from keras_ar.models.image_model import ImageAutoregressiveModel
from keras_ar.ops.categorical import sample_categorical
from keras_ar.optional import import_keras_hub


@keras.saving.register_keras_serializable(package="keras_ar")
@shows_arguments_of(TransformerArgs.__init__)
class ImageTransformer(TransformerArgs, ImageAutoregressiveModel):
    """Causal Transformer over an image's sub-pixels in raster order.

    The image `(height, width, channels)` is read as a sequence of
    `T = height * width * channels` tokens, row by row, left to right,
    channels innermost (R, G, B of a pixel one after the other), each a value
    in `[0, levels)`. The sequence is shifted right by one and a start token
    (id `levels`) fills position 0, so the logits at position t depend on
    the sub-pixels before t only: `exp(log_prob)` is a proper distribution
    over images. The network: token embedding + learned row, column and
    channel embeddings (`RasterPositionEmbedding`) -> dropout ->
    `num_layers` pre-LN keras-hub `TransformerDecoder` blocks without
    cross-attention (`CausalTransformerStack`) -> a dense layer with
    `levels` logits per sub-pixel. A class-conditional model
    (`num_classes`) adds a learned class embedding at every position.

    Generation. `generate(use_cache=True)` keeps the decoders' key/value
    cache: each step embeds one token at its position (`start_index`),
    appends its keys and values to the cache at that position
    (`self_attention_cache_update_index`) and attends over the cache, so a
    sub-pixel costs one position of work; a `prefix` (given top rows) fills
    the cache in one pass. `use_cache=False` runs the whole network per step
    (the reference path). Both give the same samples for the same seed.

    Args:
        image_shape: `(height, width)` or `(height, width, channels)`.
        levels: values per sub-pixel (the book uses 4 for Fashion-MNIST).
        num_layers: Transformer blocks.
        num_heads: attention heads; must divide `hidden_dim`.
        hidden_dim: width of the embeddings and of the blocks.
        intermediate_dim: width of the blocks' feed-forward layers.
        dropout: float in [0, 1): dropout on the embeddings and inside the
            blocks, in training only.
        num_classes: None, or the number of classes of a class-conditional
            model (then pass labels as for `GatedPixelCNN`).
        layer_norm_epsilon: epsilon of the layer norms.
        **kwargs: `keras.Model` arguments (`name`, `dtype`, ...).

    Example (every family shares `PixelCNN`'s compile / fit / generate
    workflow; here a class-conditional model completing two images from
    their top rows):

    >>> import numpy as np
    >>> model = ImageTransformer((4, 4), levels=4, num_classes=3, num_layers=1,
    ...                          num_heads=2, hidden_dim=16, intermediate_dim=32)
    >>> top_rows = np.zeros((2, 2, 4, 1), "int32")
    >>> images = model.generate(num_samples=2, labels=[0, 2], prefix=top_rows,
    ...                         seed=0)
    >>> images.shape, int(images[:, :2].max())  # the given rows are kept
    ((2, 4, 4, 1), 0)
    """

    # torch.onnx cannot trace Keras' torch layer_norm (a shape becomes a
    # tensor): on torch, `export(format="onnx")` goes through TensorFlow.
    _onnx_via_tensorflow_on = ("torch",)

    config_args = (
        "num_layers",
        "num_heads",
        "hidden_dim",
        "intermediate_dim",
        "dropout",
        "num_classes",
        "layer_norm_epsilon",
    )

    def __init__(
        self,
        image_shape,
        levels=256,
        num_layers=4,
        *,
        num_classes=None,
        **kwargs,
    ):
        # `num_heads`, `hidden_dim`, `intermediate_dim`, `dropout` and
        # `layer_norm_epsilon` are `TransformerArgs`'.
        import_keras_hub(type(self).__name__)  # a clear error before any work
        super().__init__(
            num_layers, image_shape=image_shape, levels=levels,
            num_classes=num_classes, **kwargs,
        )  # fmt: skip
        policy = self.dtype_policy
        # Ids 0..levels-1 are sub-pixel values; id `levels` is the start token.
        self.token_embedding = keras.layers.Embedding(
            self.levels + 1, self.hidden_dim, name="token_embedding", dtype=policy
        )
        self.position_embedding = RasterPositionEmbedding(
            self.image_shape, name="position_embedding", dtype=policy
        )
        self.class_embedding = None
        if self.conditional:
            self.class_embedding = keras.layers.Embedding(
                self.num_classes, self.hidden_dim, name="class_embedding", dtype=policy
            )
        self.embedding_dropout, self.transformer = transformer_trunk(self)
        self.head = keras.layers.Dense(self.levels, name="logits", dtype=policy)
        self._build_weights()

    @property
    def sequence_length(self):
        """T: sub-pixels per image, the length of the token sequence."""
        height, width, channels = self.image_shape
        return height * width * channels

    # -- network ---------------------------------------------------------
    def _embed(self, tokens, labels, start_index=0, training=False):
        """Embeddings of `tokens` `(B, k)` at positions `start_index + j`."""
        h = self.token_embedding(tokens)
        h = h + self.position_embedding(h, start_index=start_index)
        if self.class_embedding is not None:
            h = h + self.class_embedding(ops.reshape(labels, (-1, 1)))
        return self.embedding_dropout(h, training=training)

    def _embed_step(self, x, labels, i):
        """`_embed` in inference of the one input of step i: the token
        before it (the start token at i = 0), at position i, without the
        layer calls (on PyTorch each costs more than its lookup)."""
        batch = ops.shape(x)[0]
        flat = reshape(x, (batch, self.sequence_length))
        if isinstance(i, int):  # an eager loop: plain slices
            token = flat[:, i - 1 : i] if i else ops.full((batch, 1), self.levels, "int32")
            position = self.position_embedding.row_at(i)
        else:
            previous = ops.take(flat, ops.maximum(i - 1, 0), axis=1)
            token = ops.where(ops.equal(i, 0), self.levels, previous)
            token = ops.reshape(token, (batch, 1))
            position = self.position_embedding.rows(ops.reshape(i, (1,)))
        h = embedding_call(self.token_embedding, token) + position
        if self.class_embedding is not None:
            h = h + embedding_call(self.class_embedding, ops.reshape(labels, (-1, 1)))
        return h

    def _input_tokens(self, flat):
        """[start, x_0, ..., x_{T-2}]: the inputs that predict x_0..x_{T-1}."""
        start = ops.full((ops.shape(flat)[0], 1), self.levels, "int32")
        return ops.concatenate([start, flat[:, :-1]], axis=1)

    def call(self, inputs, training=False):
        x, labels = self.unpack_inputs(inputs)
        batch = ops.shape(x)[0]
        flat = ops.reshape(ops.cast(x, "int32"), (batch, self.sequence_length))
        h = self._embed(self._input_tokens(flat), labels, training=training)
        h = self.transformer(h, training=training)
        logits = self.head(h)
        return self._image_logits(logits)

    # -- cached generation -------------------------------------------------
    def _init_cache(self, batch_size, state):
        return self.transformer.init_cache(batch_size, self.sequence_length)

    def _prepare_loop(self, state, start, use_cache):
        if use_cache and start > 0:
            # One pass over the prefix fills the cache at positions
            # 0..start-1; the loop then begins at the first sampled step.
            batch = ops.shape(state["x"])[0]
            flat = ops.reshape(state["x"], (batch, self.sequence_length))
            tokens = self._input_tokens(flat)[:, :start]
            with no_grad():  # eager, outside the compiled loop
                h = self._embed(tokens, state.get("labels"))
                _, cache = self.transformer(
                    h, cache=state["cache"], cache_update_index=0
                )
            state = {**state, "cache": cache}
        return state, start

    def _generation_step(self, i, state, noise_i, temperature, use_cache):
        if not use_cache:
            return super()._generation_step(i, state, noise_i, temperature, use_cache)
        row, col, channel = self._position(i)
        x = state["x"]
        batch = ops.shape(x)[0]
        h = self._embed_step(x, state.get("labels"), i)
        h, cache = self.transformer.call_step(h, state["cache"], i)
        logits = ops.cast(dense_call(self.head, h)[:, 0], "float32")
        value = sample_categorical(logits, noise_i[:, 0], temperature)[:, None]
        value = self._keep_given(i, state, value, row, col, channel)
        x = self._write_pixel(x, value, row, col, channel, batch)
        return {**state, "x": x, "cache": cache}
