"""`CausalSelfAttention2D`: masked self-attention over an image in raster order
(PixelSNAIL, Chen et al., 2018)."""

import math

import keras
import numpy as np
from keras import ops

from keras_ar.backend.constants import constant
from keras_ar.backend.slicing import loop_slice_update
from keras_ar.layers._common import INITIALIZERS, WeightedLayer
from keras_ar.validation import check_input_rank, check_int


def position_features(height, width):
    """The paper's "background": `((row - H/2) / H, (col - W/2) / W)` for
    every position in raster order, float32 NumPy `(H * W, 2)`."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    rows = (rows - height / 2) / height
    cols = (cols - width / 2) / width
    return np.stack([rows.reshape(-1), cols.reshape(-1)], axis=-1).astype("float32")


@keras.saving.register_keras_serializable(package="keras_ar")
class CausalSelfAttention2D(WeightedLayer):
    """Multi-head attention in which pixel `i` attends to pixels `< i` only.

    Positions are flattened in raster order (row by row, left to right).
    Queries come from `inputs`; keys and values from `inputs` and an optional
    `context` of the same height and width (PixelSNAIL passes the image
    itself there, so that a key holds the raw value of its pixel). Both see
    the image's "background", its normalized row and column
    `((r - H/2) / H, (c - W/2) / W)`, as two extra channels, so attention can
    tell positions apart. For head `h`:

        q_i = [x_i, bg_i] W_q,  k_j = [x_j, ctx_j, bg_j] W_k,
        v_j = [x_j, ctx_j, bg_j] W_v,
        out_i = sum_h softmax_{j < i}(q_i . k_j / sqrt(key_dim)) v_j W_o[h].

    With `include_current=False` (the default) the sum runs over `j < i`: use
    it when the key at `j` holds pixel `j`'s own value (a `context` of raw
    pixels), as in the paper. Pixel 0 has nothing to attend to and returns
    the output bias only. With `include_current=True` the sum runs over
    `j <= i`: use it when the features at `i` are already blind to pixel `i`
    (e.g. after a mask-"A" stem) and `context` is not the raw image.

    Colour images: attention works on whole pixels. A model that samples the
    channels of a pixel one after the other keeps this layer strictly causal
    (`include_current=False`) and conditions on the channels of the current
    pixel in its head (see `PixelSNAIL`).

    Cached generation (a key/value cache, as keras-hub's
    `CachedMultiHeadAttention`): `init_cache` allocates keys and values for
    every position; `update_cache(cache, inputs, row, col, context)` writes
    the key and value of one pixel once its value is known, and
    `call_at(inputs, cache, row, col, context)` computes the output at one
    pixel from its query and the cached keys, with the same weights and mask
    as `call`. With `include_current=True`, `call_at` writes the pixel's own
    key and value first.

    Args:
        num_heads: attention heads.
        key_dim: size of each head's queries and keys (the paper uses 16).
        value_dim: size of each head's values (default: `key_dim`).
        output_dim: features of the output (default: those of `inputs`).
        include_current: whether pixel `i` also attends to itself.
        use_position_features: whether to append the background channels.
        use_bias: whether the projections have biases.
        kernel_initializer, bias_initializer: for the projections.

    Example:
    >>> import numpy as np
    >>> layer = CausalSelfAttention2D(num_heads=2, key_dim=4, value_dim=8)
    >>> features = np.zeros((2, 5, 5, 16), "float32")
    >>> image = np.zeros((2, 5, 5, 1), "float32")
    >>> tuple(layer(features, image).shape)
    (2, 5, 5, 16)
    >>> cache = layer.init_cache(batch_size=2)
    >>> out, cache = layer.call_at(features[:, 0, 0], cache, 0, 0, image[:, 0, 0])
    >>> tuple(out.shape)
    (2, 16)
    """

    weight_args = ("use_bias", *INITIALIZERS)

    def __init__(
        self,
        num_heads=1,
        key_dim=16,
        value_dim=None,
        output_dim=None,
        include_current=False,
        use_position_features=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.key_dim = check_int("key_dim", key_dim, minimum=1)
        self.value_dim = check_int(
            "value_dim", key_dim if value_dim is None else value_dim, minimum=1
        )
        self.output_dim = (
            None
            if output_dim is None
            else check_int("output_dim", output_dim, minimum=1)
        )
        for name, value in (
            ("include_current", include_current),
            ("use_position_features", use_position_features),
        ):
            if not isinstance(value, bool):
                raise TypeError(f"`{name}` must be True or False, got {value!r}")
        self.include_current = include_current
        self.use_position_features = use_position_features

    def build(self, inputs_shape, context_shape=None):
        name = type(self).__name__
        check_input_rank(name, inputs_shape, 4, "images (B, H, W, F)")
        _, height, width, features = inputs_shape
        if height is None or width is None or features is None:
            raise ValueError(
                f"{name} needs a known height, width and feature size (the "
                f"mask and background depend on them), got {tuple(inputs_shape)}"
            )
        context_features = 0
        if context_shape is not None:
            check_input_rank(name, context_shape, 4, "images (B, H, W, F)")
            if tuple(context_shape[1:3]) != (height, width) or context_shape[3] is None:
                raise ValueError(
                    f"{name}: `context` must have the height and width of the "
                    f"inputs {(height, width)} and known features, got "
                    f"{tuple(context_shape)}"
                )
            context_features = context_shape[3]
        self.height, self.width = int(height), int(width)
        self.context_features = int(context_features)
        self.output_features = self.output_dim or int(features)
        pos = 2 if self.use_position_features else 0
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        kv_in = features + context_features + pos

        def weight(wname, shape, bias=False):
            init = self.bias_initializer if bias else self.kernel_initializer
            return self.add_weight(name=wname, shape=shape, initializer=init)

        self.query_kernel = weight("query_kernel", (features + pos, h, kd))
        self.key_kernel = weight("key_kernel", (kv_in, h, kd))
        self.value_kernel = weight("value_kernel", (kv_in, h, vd))
        self.output_kernel = weight("output_kernel", (h, vd, self.output_features))
        if self.use_bias:
            self.query_bias = weight("query_bias", (h, kd), bias=True)
            self.key_bias = weight("key_bias", (h, kd), bias=True)
            self.value_bias = weight("value_bias", (h, vd), bias=True)
            self.output_bias = weight("output_bias", (self.output_features,), bias=True)

    # -- projections, shared by `call` and the cached path -------------------
    def _with_background(self, parts, positions):
        """Concatenates the feature `parts` (..., F_k) and, if enabled, the
        background of `positions` (a NumPy table or tensor (..., 2))."""
        if self.use_position_features:
            parts = parts + [ops.cast(positions, parts[0].dtype)]
        return ops.concatenate(parts, axis=-1)

    def _project(self, x, kernel, bias):
        y = ops.einsum("...f,fhk->...hk", x, ops.cast(kernel, x.dtype))
        if self.use_bias:
            y = y + ops.cast(bias, y.dtype)
        return y

    def _keys_values(self, inputs, context, positions):
        parts = (
            [inputs] if context is None else [inputs, ops.cast(context, inputs.dtype)]
        )
        kv_in = self._with_background(parts, positions)
        return (
            self._project(
                kv_in, self.key_kernel, self.key_bias if self.use_bias else None
            ),
            self._project(
                kv_in, self.value_kernel, self.value_bias if self.use_bias else None
            ),
        )

    def _query(self, inputs, positions):
        q_in = self._with_background([inputs], positions)
        return self._project(
            q_in, self.query_kernel, self.query_bias if self.use_bias else None
        )

    def _attend(self, scores, allowed, values):
        """Masked softmax over the last axis of `scores` (in float32, so that
        mixed precision does not overflow), then the weighted values. A row
        with nothing allowed (pixel 0) gets all-zero weights."""
        scores = ops.cast(scores, "float32") / math.sqrt(self.key_dim)
        scores = ops.where(allowed, scores, -1e9)
        weights = ops.softmax(scores, axis=-1) * ops.cast(allowed, "float32")
        return ops.cast(weights, values.dtype)

    def _output(self, mixed):
        y = ops.einsum(
            "...hv,hvo->...o", mixed, ops.cast(self.output_kernel, mixed.dtype)
        )
        if self.use_bias:
            y = y + ops.cast(self.output_bias, y.dtype)
        return y

    def _check_context(self, context):
        if (context is None) != (self.context_features == 0):
            raise ValueError(
                f"{type(self).__name__} was built "
                + ("with" if self.context_features else "without")
                + " a `context`; pass the same kind of input on every call."
            )

    def call(self, inputs, context=None):
        self._check_context(context)
        batch = ops.shape(inputs)[0]
        n = self.height * self.width
        flat = ops.reshape(inputs, (batch, n, ops.shape(inputs)[-1]))
        if context is not None:
            context = ops.reshape(context, (batch, n, ops.shape(context)[-1]))
        positions = ops.broadcast_to(
            ops.convert_to_tensor(position_features(self.height, self.width)),
            (batch, n, 2),
        )
        query = self._query(flat, positions)  # (B, n, h, kd)
        key, value = self._keys_values(flat, context, positions)
        scores = ops.einsum("bihk,bjhk->bhij", query, key)
        offset = 0 if self.include_current else -1
        allowed = np.tril(np.ones((n, n), bool), k=offset)[None, None]
        weights = self._attend(scores, allowed, value)
        mixed = ops.einsum("bhij,bjhv->bihv", weights, value)
        out = self._output(mixed)
        return ops.reshape(out, (batch, self.height, self.width, self.output_features))

    def compute_output_shape(self, inputs_shape, context_shape=None):
        features = self.output_dim or inputs_shape[-1]
        return tuple(inputs_shape[:-1]) + (features,)

    # -- cached generation ----------------------------------------------------
    def init_cache(self, batch_size, dtype=None):
        """Zero keys `(B, H*W, heads, key_dim)` and values
        `(B, H*W, heads, value_dim)`, one slot per pixel in raster order."""
        dtype = dtype or self.compute_dtype
        n = self.height * self.width
        return {
            "key": ops.zeros((batch_size, n, self.num_heads, self.key_dim), dtype),
            "value": ops.zeros((batch_size, n, self.num_heads, self.value_dim), dtype),
        }

    def _pixel_background(self, row, col):
        if isinstance(row, int) and isinstance(col, int):
            # An eager loop's pixel: the same float32 arithmetic in NumPy,
            # kept per pixel (`constant`) instead of five operations a step.
            h, w = np.float32(self.height), np.float32(self.width)
            values = [(np.float32(row) - h / 2) / h, (np.float32(col) - w / 2) / w]
            return constant(
                self, ("background", row, col), np.array([values]), "float32"
            )
        row = ops.cast(row, "float32")
        col = ops.cast(col, "float32")
        h, w = float(self.height), float(self.width)
        return ops.stack([(row - h / 2) / h, (col - w / 2) / w])[None]  # (1, 2)

    def _pixel_index(self, row, col):
        """The raster index of pixel `(row, col)`: a Python int for Python
        ints (an eager loop), else an int32 tensor."""
        if isinstance(row, int) and isinstance(col, int):
            return row * self.width + col
        return ops.cast(row, "int32") * self.width + ops.cast(col, "int32")

    def _allowed(self, row, col):
        """`(H*W,)` bool: the cached pixels that pixel `(row, col)` attends to."""
        n, index = self.height * self.width, self._pixel_index(row, col)
        if isinstance(index, int):  # kept per pixel (see `_pixel_background`)
            positions = np.arange(n)
            allowed = positions <= index if self.include_current else positions < index
            return constant(self, ("allowed", index), allowed, "bool")
        positions = ops.arange(n, dtype="int32")
        return positions <= index if self.include_current else positions < index

    def update_cache(self, cache, inputs, row, col, context=None):
        """Writes the key and value of pixel `(row, col)` from its features
        `inputs (B, F)` and `context (B, F_c)`; returns the new cache (on
        PyTorch the given cache's tensors are updated in place, as the
        sampling loop needs: `keras_ar.backend.slicing`)."""
        self._check_context(context)
        background = ops.broadcast_to(
            self._pixel_background(row, col), (ops.shape(inputs)[0], 2)
        )
        key, value = self._keys_values(inputs, context, background)
        index = self._pixel_index(row, col)
        cache_key, cache_value = cache["key"], cache["value"]
        key = ops.cast(key[:, None], cache_key.dtype)
        value = ops.cast(value[:, None], cache_value.dtype)
        return {
            "key": loop_slice_update(cache_key, [0, index, 0, 0], key),
            "value": loop_slice_update(cache_value, [0, index, 0, 0], value),
        }

    def call_at(self, inputs, cache, row, col, context=None):
        """The output at pixel `(row, col)` from its features `inputs (B, F)`
        and the cached keys and values of the pixels before it.

        Returns `(outputs (B, output_features), cache)`; the cache changes
        only with `include_current=True` (the pixel's own key and value)."""
        if self.include_current:
            cache = self.update_cache(cache, inputs, row, col, context)
        background = ops.broadcast_to(
            self._pixel_background(row, col), (ops.shape(inputs)[0], 2)
        )
        query = self._query(inputs, background)  # (B, h, kd)
        key = ops.cast(cache["key"], query.dtype)
        value = ops.cast(cache["value"], query.dtype)
        scores = ops.einsum("bhk,bjhk->bhj", query, key)
        allowed = self._allowed(row, col)
        weights = self._attend(scores, allowed[None, None], value)
        mixed = ops.einsum("bhj,bjhv->bhv", weights, value)
        return self._output(mixed), cache
