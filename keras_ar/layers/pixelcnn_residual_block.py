"""`PixelCNNResidualBlock`: the residual block of the book's PixelCNN."""

import keras

from keras_ar.backend.slicing import cast
from keras_ar.layers._common import arguments_config
from keras_ar.layers.masked_conv2d import MaskedConv2D
from keras_ar.masks.pixelcnn import check_color_groups
from keras_ar.validation import check_input_rank, check_int, check_kernel_size


@keras.saving.register_keras_serializable(package="keras_ar")
class PixelCNNResidualBlock(keras.layers.Layer):
    """1x1 conv -> masked "B" kxk conv -> 1x1 conv, added to the input.

    The bottleneck (half the features in the middle) follows the PixelRNN
    paper's residual block for PixelCNN. All three convolutions are masked
    (the 1x1 ones only at the centre tap), so colour groups stay causal; for
    grayscale images the 1x1 masks are all ones, i.e. plain 1x1 convs.

    Args:
        filters: features in and out (the input must have this many).
        kernel_size: odd size of the middle masked convolution.
        color_channels: colour groups (1 for grayscale, 3 for RGB).
        activation: activation after each convolution (ReLU in the book).

    Example:
    >>> import numpy as np
    >>> block = PixelCNNResidualBlock(filters=8)
    >>> tuple(block(np.zeros((2, 5, 5, 8), "float32")).shape)
    (2, 5, 5, 8)
    """

    def __init__(self, filters, kernel_size=3, color_channels=1, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=2)
        self.kernel_size = check_kernel_size("kernel_size", kernel_size, 2)
        self.color_channels = check_int("color_channels", color_channels, minimum=1)
        self.activation = keras.activations.get(activation)
        half = self.filters // 2
        check_color_groups("filters // 2", half, self.color_channels)
        common = dict(mask_type="B", color_channels=color_channels, activation=activation)
        self.reduce = MaskedConv2D(half, 1, name="reduce", dtype=self.dtype_policy, **common)
        self.masked = MaskedConv2D(
            half, self.kernel_size, name="masked", dtype=self.dtype_policy, **common
        )
        self.expand = MaskedConv2D(
            self.filters, 1, name="expand", dtype=self.dtype_policy, **common
        )

    def build(self, input_shape):
        check_input_rank(type(self).__name__, input_shape, 4, "NHWC feature maps")
        if input_shape[-1] != self.filters:
            raise ValueError(
                f"{type(self).__name__}(filters={self.filters}) needs inputs with "
                f"{self.filters} channels for the residual sum, got {input_shape[-1]}"
            )
        half_shape = tuple(input_shape[:-1]) + (self.filters // 2,)
        self.reduce.build(input_shape)
        self.masked.build(half_shape)
        self.expand.build(half_shape)

    def call(self, inputs):
        return inputs + self.expand(self.masked(self.reduce(inputs)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # -- cached, one pixel at a time ------------------------------------
    def init_cache(self, batch_size, height, width, dtype="float32"):
        return self.masked.init_cache(batch_size, height, width, self.filters // 2, dtype)

    def call_at(self, values, cache, row, col):
        """Output `(B, filters)` at (row, col) given this pixel's input
        `values` `(B, filters)`; returns `(outputs, cache)`."""
        reduced = self.reduce.call_pixel(values)
        cache = self.masked.write_cache(cache, reduced, row, col)
        middle = self.masked.call_at(cache, row, col)
        return values + cast(self.expand.call_pixel(middle), values.dtype), cache

    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}
