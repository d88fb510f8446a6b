"""`PixelSNAIL` (Chen et al., 2018), backend-agnostic."""

import keras
from keras import ops

from keras_ar.backend.constants import dense_call
from keras_ar.backend.slicing import loop_cond, loop_slice, loop_slice_update
from keras_ar.layers.causal_self_attention_2d import CausalSelfAttention2D
from keras_ar.layers.mixture_of_logistics import MixtureOfLogistics
from keras_ar.layers.shifted_conv import DownRightShiftedConv2D, DownShiftedConv2D
from keras_ar.models.image_model import ImageAutoregressiveModel
from keras_ar.models.pixelcnn_plus_plus import (
    _GatedResnet,
    concat_elu,
    down_shift,
    elu,
    gated_sum,
    right_shift,
)
from keras_ar.ops.step_buffers import StepBuffers
from keras_ar.validation import check_choice, check_int, check_rate

#: `distribution="auto"` uses a categorical head up to this many levels.
MAX_AUTO_CATEGORICAL_LEVELS = 16


class _PointwiseGatedResnet(keras.layers.Layer):
    """The paper's gated resnet with 1x1 convolutions ("nin"), after the
    attention: `c1 = concat_elu(W1 concat_elu(x) + Wa concat_elu(aux))`,
    dropout, `a, b = split(W2 c1)`, output `x + a * sigmoid(b)`. Works on
    `(..., F)` tensors: whole images or one pixel alike."""

    def __init__(self, filters, dropout_rate, **kwargs):
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.dense1 = keras.layers.Dense(filters, name="dense1", dtype=policy)
        self.aux_proj = keras.layers.Dense(filters, name="aux_proj", dtype=policy)
        self.dense2 = keras.layers.Dense(2 * filters, name="dense2", dtype=policy)
        self.dropout = (
            keras.layers.Dropout(dropout_rate, dtype=policy)
            if dropout_rate > 0
            else None
        )

    def call(self, x, aux, training=False):
        c1 = dense_call(self.dense1, concat_elu(x))
        c1 = concat_elu(c1 + dense_call(self.aux_proj, concat_elu(aux)))
        if self.dropout is not None:
            c1 = self.dropout(c1, training=training)
        return gated_sum(x, dense_call(self.dense2, c1))

    def step(self, x, aux):
        """`call` in inference, for a sampling step: without Keras' layer
        call, whose bookkeeping costs more than one pixel's products on
        PyTorch."""
        return self.call(x, aux, training=False)


@keras.saving.register_keras_serializable(package="keras_ar")
class PixelSNAIL(ImageAutoregressiveModel):
    """PixelSNAIL: gated residual causal convolutions and causal attention.

    The architecture of Chen et al. (2018) (the public code's
    `h12_noup_smallkey` network, without its two-stream "u" part, which the
    attention makes unnecessary): the PixelCNN++ first layer (a down-shifted
    1x3 and a down-right-shifted 2x1 convolution, so that pixel `i` sees
    pixels `< i` only), then `num_blocks` blocks, each

    - `num_resnet` gated residual blocks with down-right-shifted 2x2
      convolutions, `concat_elu` and dropout (those of `PixelCNNPlusPlus`);
    - `CausalSelfAttention2D`: queries from the features and the image's
      background (normalized row and column), keys and values from the
      features, the scaled image itself (raw pixel values, as in the paper)
      and the background; pixel `i` attends to every pixel `< i`;
    - a 1x1 gated residual block that mixes the attention output in.

    The receptive field of every pixel is the whole past, from the first
    block on. The features, through `elu`, feed one of two heads:

    - `distribution="mixture"`: `MixtureOfLogistics`, as in the paper: each
      pixel is drawn whole, its colour channels coupled linearly inside the
      mixture (`steps_per_pixel == 1`).
    - `distribution="categorical"`: `levels` logits per sub-pixel. Colour
      images are autoregressive over sub-pixels: raster order over pixels,
      then R, G, B inside a pixel. The trunk (convolutions and attention)
      sees whole pixels `< i` only; the head adds the current pixel's
      earlier channels through a 1x1 mask-"A" convolution with the PixelRNN
      channel groups (R sees none, G sees R, B sees R and G), so
      `steps_per_pixel == channels`.
    - `"auto"` (the default): categorical for `levels <= 16`, mixture above.

    Defaults are the public code's CIFAR-10 settings: 256 filters, 12
    blocks of 4 residual blocks, one attention head with keys of size 16
    ("smallkey"), 10 mixture components, dropout 0.5. Simplifications:
    queries, keys and values are linear maps of their inputs (the code first
    passes them through a 1x1 gated resnet), no weight normalization, no
    Polyak averaging.

    Generation: `use_cache=False` runs the whole network for each step.
    `use_cache=True` computes only pixel `(r, c)` at each step: the
    convolutions read 2x2 windows of per-layer caches (as in
    `PixelCNNPlusPlus`), and every attention block reads a key/value cache
    (`CausalSelfAttention2D.call_at`) to which each pixel, once drawn,
    appends its key and value. A step costs a few window convolutions per
    layer plus, per attention block, one query against the cached keys,
    instead of a full forward pass. Both paths give the same samples for the
    same seed.

    Args:
        image_shape: `(height, width)` or `(height, width, channels)`.
        levels: values per channel (256 for 8-bit images).
        distribution: "auto", "mixture" or "categorical" (see above).
        num_mixtures: logistic components of the mixture head.
        num_filters: features of the network.
        num_blocks: residual-plus-attention blocks (the paper's 12).
        num_resnet: gated residual blocks before each attention.
        num_heads: attention heads.
        key_dim: size of each head's queries and keys.
        value_dim: size of each head's values (default `num_filters // 2`).
        dropout_rate: dropout inside the gated resnets (training only).

    Example (every family shares `PixelCNN`'s compile / fit / generate
    workflow; here the head that `distribution="auto"` picks for 8 levels,
    and each pixel's share of an image's log-likelihood):

    >>> import numpy as np
    >>> model = PixelSNAIL((4, 4, 3), levels=8, num_filters=8, num_blocks=1,
    ...                    num_resnet=1, dropout_rate=0.0)
    >>> model.head_type, model.steps_per_pixel
    ('categorical', 3)
    >>> model.log_prob_elements(np.zeros((2, 4, 4, 3), "int32")).shape
    (2, 4, 4)
    """

    config_args = (
        "distribution",
        "num_mixtures",
        "num_filters",
        "num_blocks",
        "num_resnet",
        "num_heads",
        "key_dim",
        "value_dim",
        "dropout_rate",
    )

    def __init__(
        self,
        image_shape,
        levels=256,
        distribution="auto",
        num_mixtures=10,
        num_filters=256,
        num_blocks=12,
        num_resnet=4,
        num_heads=1,
        key_dim=16,
        value_dim=None,
        dropout_rate=0.5,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, levels=levels, **kwargs)
        self.distribution = check_choice(
            "distribution", distribution, ("auto", "mixture", "categorical")
        )
        self.num_mixtures = check_int("num_mixtures", num_mixtures, minimum=1)
        self.num_filters = check_int("num_filters", num_filters, minimum=1)
        self.num_blocks = check_int("num_blocks", num_blocks, minimum=0)
        self.num_resnet = check_int("num_resnet", num_resnet, minimum=0)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.key_dim = check_int("key_dim", key_dim, minimum=1)
        self.value_dim = check_int(
            "value_dim",
            max(1, self.num_filters // 2) if value_dim is None else value_dim,
            minimum=1,
        )
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        if self.distribution == "auto":
            self.head_type = (
                "categorical"
                if self.levels <= MAX_AUTO_CATEGORICAL_LEVELS
                else "mixture"
            )
        else:
            self.head_type = self.distribution
        channels = self.image_shape[-1]
        if self.head_type == "mixture":
            # One uniform picks the component, one per channel draws it.
            self.noise_width = 1 + channels

        policy = self.dtype_policy
        f = self.num_filters
        self.init_row_conv = DownShiftedConv2D(f, (1, 3), name="init_row", dtype=policy)
        self.init_col_conv = DownRightShiftedConv2D(
            f, (2, 1), name="init_col", dtype=policy
        )
        self.resnets = [
            [
                _GatedResnet(
                    f, "ul", 0, self.dropout_rate, name=f"resnet_{b}_{k}", dtype=policy
                )
                for k in range(self.num_resnet)
            ]
            for b in range(self.num_blocks)
        ]
        self.attentions = [
            CausalSelfAttention2D(
                num_heads=self.num_heads,
                key_dim=self.key_dim,
                value_dim=self.value_dim,
                include_current=False,
                name=f"attention_{b}",
                dtype=policy,
            )  # fmt: skip
            for b in range(self.num_blocks)
        ]
        self.attention_resnets = [
            _PointwiseGatedResnet(
                f, self.dropout_rate, name=f"attention_resnet_{b}", dtype=policy
            )
            for b in range(self.num_blocks)
        ]
        if self.head_type == "mixture":
            self.head = MixtureOfLogistics(
                num_mixtures=self.num_mixtures, levels=self.levels,
                color_channels=channels, name="mixture", dtype=policy,
            )  # fmt: skip
        elif channels == 1:
            self.logits_dense = keras.layers.Dense(
                self.levels, name="logits", dtype=policy
            )
        else:
            hidden = -(-f // channels) * channels  # a multiple of the groups
            self.hidden_dense = keras.layers.Dense(hidden, name="hidden", dtype=policy)
            self.channel_conv = self._masked_conv(hidden, 1, "A", "channel_conv")
            self.logits_conv = self._logits_conv()
        self._build_weights(symbolic=True)

    @property
    def steps_per_pixel(self):
        return 1 if self.head_type == "mixture" else self.image_shape[-1]

    # -- the network ------------------------------------------------------
    def call(self, inputs, training=False):
        x, _ = self.unpack_inputs(inputs)
        x_in = self._inputs_with_ones(x)
        # Pixel i sees the row above (1x3) and the pixel to its left (2x1).
        h = down_shift(self.init_row_conv(x_in)) + right_shift(self.init_col_conv(x_in))
        for resnets, attention, mix in zip(
            self.resnets, self.attentions, self.attention_resnets
        ):
            for resnet in resnets:
                h = resnet(h, training=training)
            h = mix(h, attention(h, x_in), training=training)
        return self._head(ops.elu(h), x)

    def _head(self, features, x):
        """Distribution parameters from trunk features `(..., F)` and, for a
        colour categorical head, the current pixels' values `x (..., C)`."""
        if self.head_type == "mixture":
            return ops.cast(dense_call(self.head, features), "float32")
        channels = self.image_shape[-1]
        if channels == 1:
            logits = self.logits_dense(features)
        else:
            # The trunk is blind to pixel i; channel c of pixel i adds its
            # channels < c through the mask-"A" 1x1 convolution.
            spatial = len(features.shape) == 4
            if not spatial:
                features = features[:, None, None]
                x = x[:, None, None]
            hidden = ops.elu(
                self.hidden_dense(features) + self.channel_conv(self.scale_inputs(x))
            )
            logits = self.logits_conv(hidden)
            if not spatial:
                logits = logits[:, 0, 0]
        shape = (-1,) + tuple(logits.shape[1:-1]) + (channels, self.levels)
        return ops.cast(ops.reshape(logits, shape), "float32")

    def element_log_probs(self, x, outputs):
        if self.head_type == "categorical":
            return super().element_log_probs(x, outputs)
        return self.head.log_prob(x, outputs)  # (B, H, W): whole pixels

    def _sample_pixel(self, pixel_outputs, channel, noise_i, temperature):
        if self.head_type == "categorical":
            return super()._sample_pixel(pixel_outputs, channel, noise_i, temperature)
        # The whole pixel at once (`channel` is always 0 here).
        return self.head.sample(pixel_outputs, noise_i, temperature)

    # -- cached generation -----------------------------------------------
    # The network input is cached as (B, H + 1, W + 2, C + 1) and every
    # convolution's input as (B, H + 1, W + 1, F): one zero row on top and
    # zero columns on the sides, the padding of the shifted convolutions.
    # Real position (i, j) is at (i + 1, j + 1).
    def _init_cache(self, batch_size, state):
        height, width, channels = self.image_shape
        dtype = self.compute_dtype
        f = self.num_filters
        cache = {
            "x_in": ops.zeros((batch_size, height + 1, width + 2, channels + 1), dtype),
            "features": ops.zeros((batch_size, f), dtype),
            # The pixel whose trunk features are in "features" (colour
            # categorical heads reuse them for the pixel's later channels).
            "pixel": ops.convert_to_tensor(-1, "int32"),
        }
        for b in range(self.num_blocks):
            for k in range(self.num_resnet):
                cache[f"resnet_{b}_{k}/in"] = ops.zeros(
                    (batch_size, height + 1, width + 1, f), dtype
                )
                cache[f"resnet_{b}_{k}/c1"] = ops.zeros(
                    (batch_size, height + 1, width + 1, 2 * f), dtype
                )
            kv = self.attentions[b].init_cache(batch_size, dtype)
            cache[f"attention_{b}/key"] = kv["key"]
            cache[f"attention_{b}/value"] = kv["value"]
            cache[f"attention_{b}/in"] = ops.zeros((batch_size, f), dtype)
        return cache

    def _cached_pixel_outputs(self, state, row, col):
        cache = state["cache"]
        if self.steps_per_pixel == 1:
            cache = self._cached_trunk(cache, row, col)
        else:
            # The trunk sees pixels < (row, col) only: compute it at the
            # pixel's first channel, reuse it for the others.
            index = row * self.image_shape[1] + col
            cache = loop_cond(
                ops.equal(cache["pixel"], index),
                lambda: cache,
                lambda: self._cached_trunk(dict(cache), row, col),
                key="same_pixel",
            )
        x = state["x"]
        batch, channels = ops.shape(x)[0], self.image_shape[-1]
        pixel = ops.reshape(
            loop_slice(x, [0, row, col, 0], [batch, 1, 1, channels]), (batch, channels)
        )
        outputs = self._head(elu(cache["features"]), pixel)
        return outputs, {**state, "cache": cache}

    def _cached_trunk(self, cache, row, col):
        """Every layer of the trunk at pixel `(row, col)`, from the caches.

        The convolutions' caches go through `StepBuffers`: each block writes
        its input at the pixel and then reads the 2x2 window holding it,
        which under XLA would otherwise copy every cache at every step.
        """
        cache = dict(cache)
        batch = ops.shape(cache["features"])[0]
        names = [k for k in cache if k.startswith("resnet_")]
        buffers = StepBuffers({k: cache[k] for k in names}, never=row < 0)
        place = [0, row + 1, col + 1, 0]

        def window(name, h, w):
            # Buffer rows row .. row + h - 1 are real rows row - 1 .. (ending
            # at row for h = 2); buffer column col is real column col - 1.
            depth = buffers.shape(name)[3]
            return buffers.read(name, [0, row, col, 0], [batch, h, w, depth])

        def x_window(h, w):
            x_in = cache["x_in"]
            return loop_slice(x_in, [0, row, col, 0], [batch, h, w, ops.shape(x_in)[3]])

        # down_shift(conv_1x3): x row - 1, columns col - 1 .. col + 1;
        # right_shift(conv_2x1): x rows row - 1 .. row, column col - 1.
        above = self.init_row_conv.convolve(x_window(1, 3))
        left = self.init_col_conv.convolve(x_window(2, 1))
        h = above * ops.cast(row > 0, above.dtype) + left * ops.cast(
            col > 0, left.dtype
        )
        for b in range(self.num_blocks):
            for k, resnet in enumerate(self.resnets[b]):
                name = f"resnet_{b}_{k}"
                buffers.write(name + "/in", h, place)
                conv1 = resnet.conv1.convolve(concat_elu(window(name + "/in", 2, 2)))
                buffers.write(name + "/c1", resnet.first(conv1, []), place)
                conv2 = resnet.conv2.convolve(window(name + "/c1", 2, 2))
                h = resnet.second(h, conv2)
            h = ops.reshape(h, (batch, self.num_filters))
            cache[f"attention_{b}/in"] = h
            kv = {
                "key": cache[f"attention_{b}/key"],
                "value": cache[f"attention_{b}/value"],
            }
            mixed, _ = self.attentions[b].call_at(h, kv, row, col)
            h = self.attention_resnets[b].step(h, mixed)
            h = ops.reshape(h, (batch, 1, 1, self.num_filters))
        features = ops.reshape(h, (batch, self.num_filters))
        # The features are computed from every read of the step.
        cache.update(buffers.commit(after=features))
        cache["features"] = features
        cache["pixel"] = ops.cast(row * self.image_shape[1] + col, "int32")
        return cache

    def _cache_pixel_written(self, state, row, col):
        # Store the pixel's network input and append its key and value to
        # every attention block. For a colour categorical head this runs
        # after each channel; the key is final after the last one, and no
        # query reads it before (queries attend to earlier pixels only).
        x = state["x"]
        batch, channels = ops.shape(x)[0], self.image_shape[-1]
        pixel = ops.reshape(
            loop_slice(x, [0, row, col, 0], [batch, 1, 1, channels]), (batch, channels)
        )
        pixel_in = self._inputs_with_ones(pixel)
        cache = dict(state["cache"])
        cache["x_in"] = loop_slice_update(
            cache["x_in"], [0, row + 1, col + 1, 0], pixel_in[:, None, None]
        )
        for b, attention in enumerate(self.attentions):
            kv = {
                "key": cache[f"attention_{b}/key"],
                "value": cache[f"attention_{b}/value"],
            }
            kv = attention.update_cache(
                kv, cache[f"attention_{b}/in"], row, col, context=pixel_in
            )
            cache[f"attention_{b}/key"] = kv["key"]
            cache[f"attention_{b}/value"] = kv["value"]
        return {**state, "cache": cache}
