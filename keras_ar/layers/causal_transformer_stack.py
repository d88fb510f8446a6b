"""`CausalTransformerStack`: keras-hub `TransformerDecoder` blocks without
cross-attention (a GPT-2 style decoder-only stack), with one key/value cache
for all of them."""

import keras
from keras import ops

from keras_ar.backend.attention import flash_attention_impossible
from keras_ar.optional import import_keras_hub
from keras_ar.validation import check_int, check_positive_float


@keras.saving.register_keras_serializable(package="keras_ar")
def gelu_tanh(x):
    """GELU in GPT-2's tanh approximation: `0.5 x (1 + tanh(sqrt(2 / pi)
    (x + 0.044715 x^3)))`. The default feed-forward activation: it is what
    GPT-2 uses, and it exports to ONNX (the exact GELU's `erfc` has no ONNX
    operator that tf2onnx emits)."""
    return keras.activations.gelu(x, approximate=True)


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
    key/value cache `(batch, num_layers, 2, max_length, num_heads, head_dim)`.
    `call(inputs, cache=cache, cache_update_index=t)` treats `inputs`
    `(batch, k, hidden_dim)` as positions `t ... t + k - 1`: every block
    writes their keys and values into its slice of the cache at `t` and
    attends over the cache up to each position (the decoders'
    `self_attention_cache` and `self_attention_cache_update_index`). With
    k = 1 one generated position costs one position of work; with t = 0 and
    a whole prompt, one pass fills the cache for it.

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
    >>> tuple(outputs.shape), tuple(cache.shape)
    ((3, 1, 8), (3, 2, 2, 5, 2, 4))
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
        """A zero key/value cache for `max_length` positions."""
        if self.hidden_dim is None:
            raise ValueError("Build the layer (call it once) before init_cache.")
        shape = (batch_size, self.num_layers, 2, max_length, self.num_heads, self.head_dim)
        return ops.zeros(shape, dtype or self.compute_dtype)

    def call(self, inputs, cache=None, cache_update_index=None, training=None):
        x = inputs
        if cache is None:
            if cache_update_index is not None:
                raise ValueError("`cache_update_index` needs a `cache`.")
            for decoder in self.decoder_layers:
                x = decoder(x, training=training)
            return self._finish(x)
        index = 0 if cache_update_index is None else cache_update_index
        caches = []
        for i, decoder in enumerate(self.decoder_layers):
            x, layer_cache = decoder(
                x,
                self_attention_cache=cache[:, i],
                self_attention_cache_update_index=index,
                training=training,
            )
            caches.append(layer_cache)
        return self._finish(x), ops.stack(caches, axis=1)

    def _finish(self, x):
        return x if self.final_norm is None else self.final_norm(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "normalize_first": self.normalize_first,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
