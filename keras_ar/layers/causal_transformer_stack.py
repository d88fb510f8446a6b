"""`CausalTransformerStack`: keras-hub `TransformerDecoder` blocks without
cross-attention (a GPT-2 style decoder-only stack), with one key/value cache
for all of them."""

import keras
import numpy as np
from keras import ops

from keras_ar.backend.attention import flash_attention_impossible
from keras_ar.backend.constants import (
    constant,
    dense_call,
    is_torch_tensor,
    layer_norm_call,
    torch_twin,
)
from keras_ar.backend.slicing import (
    cast,
    loop_slice_update,
    slice_update,
    updates_in_place,
)
from keras_ar.layers._common import arguments_config
from keras_ar.optional import import_keras_hub
from keras_ar.validation import check_int, check_positive_float


@keras.saving.register_keras_serializable(package="keras_ar")
def gelu_tanh(x):
    """GELU in GPT-2's tanh approximation: `0.5 x (1 + tanh(sqrt(2 / pi)
    (x + 0.044715 x^3)))`. The default feed-forward activation: it is what
    GPT-2 uses, and it exports to ONNX (the exact GELU's `erfc` has no ONNX
    operator that tf2onnx emits)."""
    return keras.activations.gelu(x, approximate=True)


def _gelu_tanh_torch(x):
    import torch

    return torch.nn.functional.gelu(x, approximate="tanh")


torch_twin(gelu_tanh, _gelu_tanh_torch)  # Keras' gelu on PyTorch runs this


@keras.saving.register_keras_serializable(package="keras_ar")
class CausalTransformerStack(keras.layers.Layer):
    """`num_layers` causal self-attention blocks and a final layer norm.

    Each block is a `keras_hub.layers.TransformerDecoder` called without an
    encoder sequence (so it has no cross-attention) and with its causal
    mask: the output at position t reads the inputs at positions <= t only.
    With `normalize_first=True` (the default) the blocks normalize their
    inputs (pre-LN, as GPT-2 and ImageGPT do) and the stack ends with a
    `LayerNormalization`; with False they are the post-LN blocks of Vaswani
    et al. (2017) and the stack adds no final norm.

    Cached decoding. `init_cache(batch_size, max_length)` returns a zero
    key/value cache: a list with one `[keys, values]` pair per block, each
    `(batch, num_heads, max_length, head_dim)`.
    `call(inputs, cache=cache, cache_update_index=t)` treats `inputs`
    `(batch, k, hidden_dim)` as positions `t ... t + k - 1`: every block
    attends from them over the cached positions `< t` and over themselves
    (causally), then their keys and values go into the cache at `t`. With
    k = 1 one generated position costs one position of work; with t = 0 and
    a whole prompt, one pass fills the cache for it. `call_step` is the same
    for sampling loops, writing the cache in place on PyTorch.

    The cached path runs the decoders' own sublayers (norms, projections,
    feed-forward) with its own attention over the cache, rather than the
    decoders' `self_attention_cache`: keras-hub's cache (one tensor, positions
    before heads) and its write-then-read of the whole cache made XLA copy
    and transpose every layer's cache at every step, most of a step's time.
    Here each block's keys and values are tensors of their own (a slice of
    a shared tensor is a copy too), heads first (a step's scores are one
    batched product, no transpose); the attention reads the cache as it was,
    and the writes come last, after everything that reads it, so XLA
    updates the cache in place.

    Args:
        num_layers: int >= 1: decoder blocks.
        num_heads: int >= 1: attention heads; must divide the hidden size
            (the inputs' last dimension).
        intermediate_dim: int >= 1: width of each block's feed-forward layer.
        dropout: float in [0, 1): the decoders' dropout (attention weights,
            attention output and feed-forward output), in training only.
        activation: the feed-forward activation (default `gelu_tanh`, GELU
            in GPT-2's tanh approximation; "gelu" is the exact one).
        layer_norm_epsilon: epsilon of the layer norms.
        normalize_first: pre-LN (True) or post-LN (False) blocks.
        kernel_initializer: initializer of the dense and attention kernels.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: float tensor `(batch, length, hidden_dim)`.
        cache: optional key/value cache from `init_cache` (or a previous
            call); then the call returns `(outputs, cache)`.
        cache_update_index: int or int tensor: the position of `inputs[:, 0]`
            when `cache` is given (default 0).
        training: whether dropout is active.

    Returns:
        `outputs` `(batch, length, hidden_dim)`, or `(outputs, cache)`.

    Example:

    >>> import numpy as np
    >>> stack = CausalTransformerStack(num_layers=2, num_heads=2,
    ...                                intermediate_dim=16)
    >>> x = np.random.normal(size=(3, 5, 8)).astype("float32")
    >>> tuple(stack(x).shape)
    (3, 5, 8)
    >>> cache = stack.init_cache(batch_size=3, max_length=5)
    >>> outputs, cache = stack(x[:, :1], cache=cache, cache_update_index=0)
    >>> len(cache), tuple(outputs.shape), tuple(cache[0][0].shape)
    (2, (3, 1, 8), (3, 2, 5, 4))
    """

    def __init__(
        self,
        num_layers,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation=gelu_tanh,
        layer_norm_epsilon=1e-5,
        normalize_first=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        keras_hub = import_keras_hub(type(self).__name__)
        self.num_layers = check_int("num_layers", num_layers, minimum=1)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.intermediate_dim = check_int("intermediate_dim", intermediate_dim, minimum=1)
        self.dropout = check_positive_float("dropout", dropout, allow_zero=True)
        if self.dropout >= 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout}")
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = check_positive_float(
            "layer_norm_epsilon", layer_norm_epsilon
        )
        self.normalize_first = bool(normalize_first)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.decoder_layers = [
            keras_hub.layers.TransformerDecoder(
                intermediate_dim=self.intermediate_dim,
                num_heads=self.num_heads,
                dropout=self.dropout,
                activation=self.activation,
                layer_norm_epsilon=self.layer_norm_epsilon,
                kernel_initializer=keras.initializers.get(kernel_initializer),
                normalize_first=self.normalize_first,
                dtype=self.dtype_policy,
                name=f"transformer_decoder_{i}",
            )
            for i in range(self.num_layers)
        ]
        self.final_norm = None
        if self.normalize_first:
            self.final_norm = keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon,
                dtype=self.dtype_policy,
                name="final_layer_norm",
            )
        self.hidden_dim = None

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim is None or hidden_dim % self.num_heads:
            raise ValueError(
                f"The hidden size (last input dimension, got {hidden_dim}) must "
                f"be a multiple of num_heads={self.num_heads}"
            )
        self.hidden_dim = int(hidden_dim)
        for decoder in self.decoder_layers:
            decoder.build(input_shape)
            attention = getattr(decoder, "_self_attention_layer", None)
            if (
                flash_attention_impossible()
                and getattr(attention, "_flash_attention", False) is None
            ):
                # Answer "flash attention?" once (no, on a CPU) rather than
                # at every call: keeps a compiled sampling step one graph.
                attention._flash_attention = False
        if self.final_norm is not None:
            self.final_norm.build(input_shape)

    @property
    def head_dim(self):
        return self.hidden_dim // self.num_heads

    def init_cache(self, batch_size, max_length, dtype=None):
        """A zero key/value cache for `max_length` positions: one
        `[keys, values]` pair per block, each `(batch_size, num_heads,
        max_length, head_dim)`."""
        if self.hidden_dim is None:
            raise ValueError("Build the layer (call it once) before init_cache.")
        shape = (batch_size, self.num_heads, max_length, self.head_dim)
        dtype = dtype or self.compute_dtype
        return [
            [ops.zeros(shape, dtype), ops.zeros(shape, dtype)]
            for _ in range(self.num_layers)
        ]

    def call(self, inputs, cache=None, cache_update_index=None, training=None):
        x = inputs
        if cache is None:
            if cache_update_index is not None:
                raise ValueError("`cache_update_index` needs a `cache`.")
            for decoder in self.decoder_layers:
                x = decoder(x, training=training)
            return self._finish(x)
        index = 0 if cache_update_index is None else cache_update_index
        return self._cached(x, cache, index, training, in_place=False)

    def call_step(self, inputs, cache, cache_update_index):
        """`call(inputs, cache=cache, cache_update_index=...)` in inference,
        for a sampling loop: on PyTorch the cache is written in place (the
        returned cache is `cache` itself), so pass on the returned cache and
        do not read the old one again."""
        return self._cached(
            ops.cast(inputs, self.compute_dtype), cache, cache_update_index,
            training=False, in_place=True,
        )  # fmt: skip

    def _cached(self, x, cache, index, training, in_place):
        """Positions `index .. index + k - 1` (k = `x.shape[1]`) against the
        cache; returns `(outputs, cache)` with their keys and values in it."""
        _check_cache(cache, self.num_layers)
        length = ops.shape(cache[0][0])[2]
        k = x.shape[1]
        # Cached positions < index are visible; among the new positions
        # j sees j' <= j. (The cache's positions >= index hold zeros or stale
        # values: masked out, never read.)
        causal = constant(self, f"causal_{k}", np.tril(np.ones((k, k), bool)), "bool")
        if is_torch_tensor(x):  # the same mask without Keras' dispatch
            import torch

            positions = constant(self, f"positions_{length}", np.arange(length), "int32")
            past = (positions < index)[None].expand(k, length)
            visible = torch.cat([past, causal], dim=1)
        else:
            past = ops.expand_dims(ops.arange(length) < index, 0)  # (1, length)
            visible = ops.concatenate(
                [ops.broadcast_to(past, (k, length)), causal], axis=1
            )
        new_keys_values = []
        for decoder, layer_cache in zip(self.decoder_layers, cache):
            x, new_kv = self._cached_block(decoder, x, layer_cache, visible, training)
            new_keys_values.append(new_kv)
        x = self._finish(x)
        # With a tensor index (a compiled loop): a `where` never taken ties
        # each write to the outputs, which read every block's old cache, so
        # that XLA sees all reads come before the writes and updates the
        # cache in place (keras_ar.ops.step_buffers). PyTorch writes in
        # place and in program order: no tie there.
        tie = (
            None
            if isinstance(index, int) or updates_in_place()
            else ops.reshape(x[:1, :1, :1], ())
        )
        write = loop_slice_update if in_place else slice_update
        new_cache = []
        for layer_cache, new_kv in zip(cache, new_keys_values):
            pair = []
            for buffer, update in zip(layer_cache, new_kv):
                update = cast(update, buffer.dtype)
                if tie is not None:
                    update = ops.where(index < 0, ops.cast(tie, update.dtype), update)
                pair.append(write(buffer, [0, 0, index, 0], update))
            new_cache.append(pair)
        return x, new_cache

    def _cached_block(self, decoder, x, layer_cache, visible, training):
        """One `TransformerDecoder` block (no cross-attention) at the new
        positions, attending over `layer_cache` (`[keys, values]`, each
        `(B, heads, length, d)`); returns `(outputs, [new keys, new values])`,
        each `(B, heads, k, d)`.

        It calls the decoder's own sublayers in the decoder's order (pre- or
        post-LN), so the weights, and a `.keras` file, are keras-hub's; the
        sublayers are private attributes of keras-hub's `TransformerDecoder`
        and its `CachedMultiHeadAttention` (keras-hub 0.32), and
        `tests/test_transformer_layers.py` checks this path against the
        decoders' full call."""
        attention = decoder._self_attention_layer
        # Inference drops nothing: no dropout call (a dispatch per step).
        drop = (lambda layer, t: t) if training is False else _dropout
        residual = x
        if self.normalize_first:
            x = layer_norm_call(decoder._self_attention_layer_norm, x)
        scale = 1.0 / float(self.head_dim) ** 0.5
        query = _heads_first(dense_call(attention._query_dense, x)) * scale
        key = _heads_first(dense_call(attention._key_dense, x))
        value = _heads_first(dense_call(attention._value_dense, x))
        attended = _attend(query, key, value, layer_cache, visible, attention, drop)
        x = dense_call(attention._output_dense, _heads_first(attended))
        x = drop(decoder._self_attention_dropout, x) + residual
        if not self.normalize_first:
            x = layer_norm_call(decoder._self_attention_layer_norm, x)
        residual = x
        if self.normalize_first:
            x = layer_norm_call(decoder._feedforward_layer_norm, x)
        x = dense_call(
            decoder._feedforward_output_dense,
            dense_call(decoder._feedforward_intermediate_dense, x),
        )
        x = drop(decoder._feedforward_dropout, x) + residual
        if not self.normalize_first:
            x = layer_norm_call(decoder._feedforward_layer_norm, x)
        return x, [key, value]

    def _finish(self, x):
        return x if self.final_norm is None else layer_norm_call(self.final_norm, x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}


def _check_cache(cache, num_layers):
    if (
        not isinstance(cache, (list, tuple))
        or len(cache) != num_layers
        or any(not isinstance(pair, (list, tuple)) or len(pair) != 2 for pair in cache)
    ):
        raise ValueError(
            f"`cache` must be `init_cache`'s list of {num_layers} [keys, values] "
            f"pairs (one per block), got {type(cache).__name__}"
        )


def _dropout(layer, x):
    return layer(x)


def _heads_first(t):
    """(B, k, heads, d) <-> (B, heads, k, d)."""
    if is_torch_tensor(t):
        return t.transpose(1, 2)
    return ops.transpose(t, (0, 2, 1, 3))


def _attend(query, key, value, layer_cache, visible, attention, drop):
    """Softmax attention of `query` `(B, heads, k, d)` over the cached keys
    and values (`layer_cache`, positions before the new ones) and the new
    `key`, `value`, where `visible` `(k, length + k)` allows; returns
    `(B, heads, k, d)`. The scores are computed in float32. On PyTorch the
    same products run in torch directly (`matmul` rather than Keras'
    `einsum`, whose dispatch costs more than these small products)."""
    old_keys, old_values = layer_cache
    length = ops.shape(old_keys)[2]
    if is_torch_tensor(query):
        import torch

        old_keys, old_values = old_keys.to(query.dtype), old_values.to(query.dtype)
        scores = torch.cat(
            [query @ old_keys.transpose(2, 3), query @ key.transpose(2, 3)], dim=-1
        )
        scores = scores.masked_fill(~visible, float("-inf"))
        probs = torch.softmax(scores.float(), dim=-1).to(query.dtype)
        probs = drop(attention._dropout_layer, probs)
        # A contiguous copy of the cached part: a batched product with a
        # strided left operand takes about twice as long on the CPU.
        return probs[..., :length].contiguous() @ old_values + probs[..., length:] @ value
    old_keys = ops.cast(old_keys, query.dtype)
    old_values = ops.cast(old_values, query.dtype)
    scores = ops.concatenate(
        [
            ops.einsum("bhqd,bhtd->bhqt", query, old_keys),
            ops.einsum("bhqd,bhtd->bhqt", query, key),
        ],
        axis=-1,
    )
    # -inf, not a large negative number, at hidden positions: exact zeros
    # in any float dtype; each position sees itself, so no row is empty.
    scores = ops.where(visible, scores, ops.cast(float("-inf"), scores.dtype))
    probs = ops.cast(ops.softmax(ops.cast(scores, "float32"), axis=-1), query.dtype)
    probs = drop(attention._dropout_layer, probs)
    return ops.einsum("bhqt,bhtd->bhqd", probs[..., :length], old_values) + ops.einsum(
        "bhqt,bhtd->bhqd", probs[..., length:], value
    )
