"""`RasterPositionEmbedding`: learned row, column and channel embeddings of
the sub-pixels of an image read in raster order (the factorized position
embedding of Child et al., 2019, "Generating Long Sequences with Sparse
Transformers", for an ImageGPT-style model)."""

import keras
from keras import ops

from keras_ar.backend.slicing import cast
from keras_ar.layers._common import arguments_config, known_last_dim
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class RasterPositionEmbedding(keras.layers.Layer):
    """Position embeddings of a flattened `(height, width, channels)` image.

    Position t of the sequence is the sub-pixel at row
    `t // (width * channels)`, column `(t // channels) % width` and channel
    `t % channels` (raster order, channels innermost, the order in which
    the image models generate). Its embedding is the sum of a learned row,
    column and channel embedding: `height + width + channels` vectors
    instead of one per position, and every pixel of a column shares its
    column vector, which a 1-D position embedding would have to learn
    `height` times over.

    Like keras-hub's `PositionEmbedding`, only the input's shape is used,
    and `start_index` offsets the positions for cached decoding, where one
    position is computed at a time.

    Args:
        image_shape: `(height, width, channels)` of the images.
        initializer: initializer of the three embedding tables.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: float tensor `(batch, length, hidden_dim)`; only its shape is
            read.
        start_index: int or int tensor: the position of `inputs[:, 0]`.

    Returns:
        `(batch, length, hidden_dim)`: the embeddings of positions
        `start_index ... start_index + length - 1`.

    Example:

    >>> import numpy as np
    >>> layer = RasterPositionEmbedding((4, 4, 3))
    >>> tuple(layer(np.zeros((2, 48, 8), "float32")).shape)
    (2, 48, 8)
    >>> tuple(layer(np.zeros((2, 1, 8), "float32"), start_index=5).shape)
    (2, 1, 8)
    """

    def __init__(self, image_shape, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3:
            raise ValueError(
                "`image_shape` must be (height, width, channels), got "
                f"{image_shape!r}"
            )
        self.image_shape = tuple(
            check_int(f"image_shape {name}", value, minimum=1)
            for name, value in zip(("height", "width", "channels"), image_shape)
        )
        self.initializer = keras.initializers.get(initializer)

    @property
    def sequence_length(self):
        height, width, channels = self.image_shape
        return height * width * channels

    def build(self, input_shape):
        hidden_dim = known_last_dim(self, input_shape)
        height, width, channels = self.image_shape
        tables = {}
        for name, size in (("row", height), ("column", width), ("channel", channels)):
            tables[name] = self.add_weight(
                name=f"{name}_embeddings",
                shape=(size, hidden_dim),
                initializer=self.initializer,
            )
        self.row_embeddings = tables["row"]
        self.column_embeddings = tables["column"]
        self.channel_embeddings = tables["channel"]

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        t = ops.arange(shape[1], dtype="int32") + ops.cast(start_index, "int32")
        return ops.broadcast_to(self.rows(t), shape)

    def rows(self, t):
        """The embeddings `(k, hidden_dim)` of raster positions `t` `(k,)`
        (what `call` adds at those positions; a sampling step reads its one
        position here without a layer call)."""
        _, width, channels = self.image_shape
        embeddings = (
            ops.take(self.row_embeddings, t // (width * channels), axis=0)
            + ops.take(self.column_embeddings, (t // channels) % width, axis=0)
            + ops.take(self.channel_embeddings, t % channels, axis=0)
        )
        return ops.cast(embeddings, self.compute_dtype)

    def row_at(self, t):
        """`rows` of one position given as a Python int, `(1, hidden_dim)`:
        plain slices of the tables (an eager sampling loop's step)."""
        _, width, channels = self.image_shape
        row, col, channel = t // (width * channels), (t // channels) % width, t % channels
        embedding = (
            self.row_embeddings[row : row + 1]
            + self.column_embeddings[col : col + 1]
            + self.channel_embeddings[channel : channel + 1]
        )
        return cast(embedding, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}
