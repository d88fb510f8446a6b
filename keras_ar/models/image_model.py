"""`ImageAutoregressiveModel`: raster-order generation shared by image models.

Pixels are generated in raster order (row by row, left to right). A model
with a categorical head samples the channels of a pixel one at a time
(R, then G given R, then B given R and G: `steps_per_pixel = channels`);
a model whose head draws a whole pixel at once (the PixelCNN++ mixture)
sets `steps_per_pixel = 1`.

Generation can complete a partial image: `generate(prefix=rows)` keeps the
given top rows and samples the rest.
"""

import keras
import numpy as np
from keras import ops

from keras_ar.backend import slicing
from keras_ar.backend.slicing import loop_slice, loop_slice_update
from keras_ar.backend.step_ops import step_ops
from keras_ar.layers.masked_conv2d import MaskedConv2D
from keras_ar.models.base import AutoregressiveModel
from keras_ar.ops import categorical_log_prob, sample_categorical
from keras_ar.validation import check_int


class ImageAutoregressiveModel(AutoregressiveModel):
    """Base of the PixelCNN family: NHWC int images in `[0, levels)`.

    Subclasses with a categorical head return logits of shape
    `(B, H, W, C, levels)` from `call` and implement, for the cached path,
    `_cached_pixel_logits(state, row, col) -> (logits (B, C, levels), state)`
    which computes the outputs at one pixel from the caches in `state`
    (created by `_init_cache(batch_size)`, a dict of tensors).
    """

    def __init__(self, image_shape, levels=256, num_classes=None, **kwargs):
        image_shape = _check_image_shape(image_shape)
        super().__init__(
            levels=levels, event_shape=image_shape, num_classes=num_classes, **kwargs
        )
        self.image_shape = image_shape

    @property
    def steps_per_pixel(self):
        return self.image_shape[-1]

    def scale_inputs(self, x):
        """Maps int levels to floats in [-1, 1], the network's input range."""
        o = step_ops(x)  # an eager PyTorch step scales one pixel: no dispatch
        return o.cast(x, self.compute_dtype) * (2.0 / (self.levels - 1)) - 1.0

    def _inputs_with_ones(self, x):
        """The scaled image and a channel of ones: the input of the families
        with zero-padded shifted convolutions (PixelCNN++, PixelSNAIL), so
        that the padding is told apart from black pixels, as in PixelCNN++."""
        scaled = self.scale_inputs(x)
        o = step_ops(scaled)
        return o.concatenate([scaled, o.ones_like(scaled[..., :1])], axis=-1)

    # -- likelihood (categorical head) ---------------------------------
    def element_log_probs(self, x, outputs):
        return categorical_log_prob(outputs, x)  # (B, H, W, C)

    def _per_position(self, elements):
        # (B, H, W, C) sub-pixels -> (B, H, W) pixels; a mixture head's
        # (B, H, W) already scores whole pixels.
        return elements.sum(axis=-1) if elements.ndim == 4 else elements

    def _per_position_shape(self, event_shape):
        return tuple(event_shape[:2])

    # -- generation -----------------------------------------------------
    def _generation_setup(self, num_samples, prefix=None):
        height, width, channels = self.image_shape
        x0 = np.zeros((num_samples, height, width, channels), "int32")
        start_row = 0
        if prefix is not None:
            prefix = self._given_prefix(
                prefix, num_samples, self.image_shape, "top rows of the images", "rows"
            )
            start_row = prefix.shape[1]
            x0[:, :start_row] = prefix
        start = start_row * width * self.steps_per_pixel
        stop = height * width * self.steps_per_pixel
        return x0, start, stop

    def _generation_state(self, x0, labels, use_cache):
        state = super()._generation_state(x0, labels, use_cache)
        if use_cache:
            state["cache"] = self._init_cache(ops.shape(state["x"])[0], state)
        return state

    # The caches must hold the prefix's activations.
    _replays_prefix = True

    def _serving_prefix(self):
        # The exported `generate_from_prefix` keeps the first `prefix_rows` rows.
        return ("prefix", "prefix_rows", self.image_shape[1] * self.steps_per_pixel)

    def _position(self, i):
        """Step index -> (row, col, channel): Python ints for a Python int
        (an eager loop's step: the slices that use them need no tensor
        arithmetic, nor a read of a tensor back into Python), else int32
        tensors."""
        if isinstance(i, int):
            pixel, channel = divmod(i, self.steps_per_pixel)
            row, col = divmod(pixel, self.image_shape[1])
            return row, col, channel
        i = ops.cast(i, "int32")
        width = self.image_shape[1]
        pixel = i // self.steps_per_pixel
        return pixel // width, pixel % width, i % self.steps_per_pixel

    def _static_branches(self, step):
        """The cached step's branches that follow from the step index alone,
        `{key: bool}`, for `keras_ar.backend.slicing.loop_cond` on PyTorch
        (the cached loop always starts at step 0, replaying a prefix):

        - "new_row": the step starts an image row after the first (the row
          above is complete);
        - "same_pixel": the step samples a later channel of the pixel the
          previous step sampled.
        """
        pixel, channel = divmod(int(step), self.steps_per_pixel)
        row, col = divmod(pixel, self.image_shape[1])
        return {
            "new_row": row > 0 and col == 0 and channel == 0,
            "same_pixel": channel > 0,
        }

    def _generation_step(self, i, state, noise_i, temperature, use_cache):
        row, col, channel = self._position(i)
        x = state["x"]
        batch = ops.shape(x)[0]
        if use_cache:
            pixel_outputs, state = self._cached_pixel_outputs(state, row, col)
        else:
            outputs = self(self.pack_inputs(x, state.get("labels")), training=False)
            pixel_outputs = self._outputs_at(outputs, row, col)
        value = self._sample_pixel(pixel_outputs, channel, noise_i, temperature)
        value = self._keep_given(i, state, value, row, col, channel)
        x = self._write_pixel(x, value, row, col, channel, batch)
        state = {**state, "x": x}
        if use_cache:
            state = self._cache_pixel_written(state, row, col)
        return state

    def _keep_given(self, i, state, value, row, col, channel):
        """`value` (B, k), or at steps before `state["given_steps"]` (a
        scalar, or one per sample) the prefix's values already in `x`: the
        cached path still reads them."""
        if "given_steps" not in state:
            return value
        x = state["x"]
        batch = ops.shape(x)[0]
        given = loop_slice(x, [0, row, col, channel], [batch, 1, 1, ops.shape(value)[-1]])
        given = ops.reshape(given, ops.shape(value))
        keep = i < ops.reshape(state["given_steps"], (-1, 1))
        return ops.where(keep, given, ops.cast(value, given.dtype))

    def _outputs_at(self, outputs, row, col):
        """The outputs at one pixel, without the row and column axes."""
        shape = ops.shape(outputs)
        start = [0, row, col] + [0] * (len(shape) - 3)
        size = [shape[0], 1, 1] + list(shape[3:])
        return ops.squeeze(loop_slice(outputs, start, size), axis=(1, 2))

    def _cached_pixel_outputs(self, state, row, col):
        logits, cache = self._cached_pixel_logits(state, row, col)
        return logits, {**state, "cache": cache}

    def _sample_pixel(self, pixel_logits, channel, noise_i, temperature):
        """Samples channel `channel` from logits `(B, C, levels)`.

        Returns `(B, 1)` int32: the value of that one channel.
        """
        shape = ops.shape(pixel_logits)
        logits = loop_slice(pixel_logits, [0, channel, 0], [shape[0], 1, shape[2]])
        return sample_categorical(logits[:, 0], noise_i[:, 0], temperature)[:, None]

    def _write_pixel(self, x, value, row, col, channel, batch):
        """Writes `value` (B, k) into channels [channel, channel + k)."""
        update = slicing.reshape(slicing.cast(value, "int32"), (batch, 1, 1, -1))
        return loop_slice_update(x, [0, row, col, channel], update)

    # -- what the families' set-up shares --------------------------------
    # A family file holds its trunk and its cache; these hold the rest.

    #: Constructor arguments, besides `image_shape` and `levels`, that
    #: `get_config` returns; each is stored on the model under its name.
    config_args = ()

    def get_config(self):
        config = super().get_config()
        config.update({"image_shape": self.image_shape, "levels": self.levels})
        config.update({name: getattr(self, name) for name in self.config_args})
        return config

    def _build_weights(self, symbolic=False):
        """Calls the model once (on zeros and class 0; with `symbolic`, on a
        `KerasTensor`: shapes only, no kernel runs or compiles), so that its
        weights exist from `__init__`: a `.keras` file loads into a fresh
        instance and `summary()` works before any data is seen."""
        shape = (1,) + self.image_shape
        if symbolic:
            x = keras.KerasTensor(shape, dtype="int32")
            labels = (
                keras.KerasTensor((1,), dtype="int32") if self.conditional else None
            )
        else:
            x = ops.zeros(shape, "int32")
            labels = ops.zeros((1,), "int32") if self.conditional else None
        self(self.pack_inputs(x, labels))

    def _masked_conv(self, filters, kernel_size, mask_type, name, **kwargs):
        """A `MaskedConv2D` with the image's channel groups and the model's
        dtype policy."""
        return MaskedConv2D(
            filters, kernel_size, mask_type=mask_type,
            color_channels=self.image_shape[-1], name=name,
            dtype=self.dtype_policy, **kwargs,
        )  # fmt: skip

    def _logits_conv(self):
        """The masked 1x1 convolution to `channels * levels` logits."""
        return self._masked_conv(self.image_shape[-1] * self.levels, 1, "B", "logits")

    def _image_logits(self, logits):
        """`(B, H, W, C * levels)` -> float32 logits `(B, H, W, C, levels)`."""
        shape = (ops.shape(logits)[0],) + self.image_shape + (self.levels,)
        return ops.cast(ops.reshape(logits, shape), "float32")

    def _pixel_logits(self, logits):
        """One pixel's `(B, C * levels)` -> float32 logits `(B, C, levels)`."""
        shape = (-1, self.image_shape[-1], self.levels)
        return slicing.cast(slicing.reshape(logits, shape), "float32")

    # A family whose first layer, `self.input_conv`, is a `MaskedConv2D`
    # that reads the image (PixelCNN, PixelRNN) sets `_stem_cached_layers`
    # to the attribute listing the layers after the stem that keep a cache
    # (`layer.init_cache(batch, height, width, dtype)`): the caches, and
    # feeding the stem each written pixel, are then the same for all.
    _stem_cached_layers = None

    def _init_cache(self, batch_size, state):
        if self._stem_cached_layers is None:
            raise NotImplementedError(
                f"{type(self).__name__} has no cached generation path; "
                "use generate(use_cache=False)."
            )
        height, width, channels = self.image_shape
        dtype = self.compute_dtype
        image = self.input_conv.init_cache(batch_size, height, width, channels, dtype)
        layers = getattr(self, self._stem_cached_layers)
        return {
            "image": image,
            "layers": [
                layer.init_cache(batch_size, height, width, dtype) for layer in layers
            ],
        }

    def _stem_at(self, state, row, col):
        """`(h, layer_caches)`: the stem's output at (row, col), from the
        image cache, and the caches of the layers after it."""
        cache = state["cache"]
        return self.input_conv.call_at(cache["image"], row, col), cache["layers"]

    def _cache_pixel_written(self, state, row, col):
        """Hook: update the caches once a value was written at (row, col)."""
        if self._stem_cached_layers is None:
            return state
        return self._write_image_cache(state, row, col, self.input_conv)

    def _write_image_cache(self, state, row, col, layer, key="image"):
        """For a first `layer` that reads the image itself: stores the pixel
        just written at (row, col), scaled, in `state["cache"][key]` (its
        channels so far; the mask hides the ones still to come)."""
        x = state["x"]
        batch, _, _, channels = ops.shape(x)
        pixel = slicing.reshape(
            loop_slice(x, [0, row, col, 0], [batch, 1, 1, channels]), (batch, channels)
        )
        cache = state["cache"]
        image = layer.write_cache(cache[key], self.scale_inputs(pixel), row, col)
        return {**state, "cache": {**cache, key: image}}


def _check_image_shape(image_shape):
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) not in (2, 3):
        raise ValueError(
            "`image_shape` must be (height, width) or (height, width, channels), "
            f"got {image_shape!r}"
        )
    image_shape = tuple(image_shape) + ((1,) if len(image_shape) == 2 else ())
    for name, value in zip(("height", "width", "channels"), image_shape):
        check_int(f"image_shape {name}", value, minimum=1)
    return tuple(int(v) for v in image_shape)
