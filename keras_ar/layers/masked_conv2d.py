"""`MaskedConv2D`: the PixelCNN masked convolution."""

import keras
from keras import ops

from keras_ar.backend.constants import activate, constant, flat_matmul, kept_weights
from keras_ar.backend.conv import conv
from keras_ar.backend.slicing import as_pixel, loop_slice, loop_slice_update
from keras_ar.layers._common import (
    INITIALIZERS,
    REGULARIZERS,
    WeightedLayer,
    add_kernel_and_bias,
    check_feature_maps,
    set_mask_args,
)
from keras_ar.masks.pixelcnn import pixelcnn_mask
from keras_ar.validation import check_int, check_kernel_size


@keras.saving.register_keras_serializable(package="keras_ar")
class MaskedConv2D(WeightedLayer):
    """A 2D convolution that only sees earlier pixels in raster order.

    The kernel is multiplied by a fixed binary mask inside the convolution
    (the stored kernel is never overwritten, unlike the book's version, so the
    layer is safe under JAX and compiled functions). Mask "A" (first layer)
    hides the centre pixel's own value; mask "B" (later layers) lets a feature
    read the centre pixel's features of its own colour group and earlier ones.
    For colour images (`color_channels=3`) features are split into R, G, B
    groups as in the PixelRNN paper; the input to a mask-"A" layer is the
    image itself, one channel per group.

    Besides the full convolution, the layer computes its output at one pixel
    from a cache of its past inputs (`init_cache`, `write_cache`, `call_at`),
    with the same masked kernel: the cached generation path of `PixelCNN`.

    Args:
        filters: number of output features (a multiple of `color_channels`).
        kernel_size: odd int or `(kh, kw)` of odd ints.
        mask_type: "A" or "B".
        color_channels: colour groups of the image (1 or 3, say).
        activation: Keras activation applied after the bias.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in `keras.layers.Conv2D`.

    Example:
    >>> import numpy as np
    >>> layer = MaskedConv2D(filters=8, kernel_size=3, mask_type="A")
    >>> tuple(layer(np.zeros((2, 5, 5, 1), "float32")).shape)
    (2, 5, 5, 8)
    """

    weight_args = ("use_bias", *INITIALIZERS, *REGULARIZERS)

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type="B",
        color_channels=1,
        activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.kernel_size = check_kernel_size("kernel_size", kernel_size, 2)
        if self.kernel_size[0] % 2 == 0 or self.kernel_size[1] % 2 == 0:
            raise ValueError(
                "`kernel_size` must be odd in both dimensions so that the mask "
                f"has a centre pixel, got {self.kernel_size}"
            )
        set_mask_args(self, mask_type, color_channels, "filters")
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        in_channels = check_feature_maps(
            self, input_shape, "NHWC images (batch, height, width, channels)"
        )
        mask = pixelcnn_mask(
            self.kernel_size,
            in_channels,
            self.filters,
            self.mask_type,
            self.color_channels,
        )
        # The mask is a constant derived from the config, not a weight: it is
        # rebuilt on load and never trained. Kept as NumPy so that building
        # inside a trace (tf.function, jax.jit) leaks no tensor.
        self._mask = mask
        add_kernel_and_bias(
            self, self.kernel_size + (in_channels, self.filters), self.filters,
            self.use_bias,
        )  # fmt: skip

    @property
    def masked_kernel(self):
        return self.kernel * constant(self, "mask", self._mask, self.kernel.dtype)

    def call(self, inputs):
        kernel = ops.cast(self.masked_kernel, self.compute_dtype)
        outputs = conv(inputs, kernel, padding="same", bias=self.bias)
        return activate(self.activation, outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    # -- cached, one pixel at a time ------------------------------------
    # Only the rows above the centre and the centre row are ever unmasked,
    # so the cache holds `kh // 2` padding rows on top and none below.
    def init_cache(self, batch_size, height, width, channels, dtype="float32"):
        """Zeros `(B, height + kh//2, width + 2*(kw//2), channels)`."""
        kh, kw = self.kernel_size
        return ops.zeros(
            (batch_size, height + kh // 2, width + 2 * (kw // 2), channels), dtype
        )

    def write_cache(self, cache, values, row, col):
        """Stores this layer's input `values` `(B, C)` at pixel (row, col)."""
        kh, kw = self.kernel_size
        update = as_pixel(values, cache.dtype)
        return loop_slice_update(cache, [0, row + kh // 2, col + kw // 2, 0], update)

    def call_at(self, cache, row, col):
        """The layer's output `(B, filters)` at pixel (row, col).

        Reads the inputs of the unmasked rows (`kh // 2 + 1` of them) from
        `cache`; equals `call(inputs)[:, row, col]` once the cache holds every
        input pixel that the mask lets (row, col) see.
        """
        kh, kw = self.kernel_size
        rows = kh // 2 + 1
        shape = ops.shape(cache)
        patch = loop_slice(cache, [0, row, col, 0], [shape[0], rows, kw, shape[3]])
        return self.call_patch(patch)

    def call_patch(self, patch):
        """Output `(B, filters)` for one input patch `(B, rows, kw, C)` whose
        last row is the centre row (rows above it may be cut off)."""
        kernel, bias = self._patch_weights(patch.shape[1])
        return activate(self.activation, flat_matmul(patch, kernel, bias))

    def call_pixel(self, values):
        """Output `(B, filters)` of a 1x1 layer for one pixel's `(B, C)`."""
        if self.kernel_size != (1, 1):
            raise ValueError("call_pixel is for 1x1 kernels; use call_at")
        kernel, bias = self._patch_weights(1)
        return activate(self.activation, flat_matmul(values, kernel, bias))

    def _patch_weights(self, rows):
        """`(matrix, bias)`: the masked kernel's last `rows` rows as a
        `(rows * kw * C, filters)` matrix and the bias (or None), in the
        compute dtype: made once per sampling call on eager PyTorch
        (`derived`), not at every step."""
        kh = self.kernel_size[0]

        def matrix():
            kernel = self.masked_kernel[kh // 2 + 1 - rows : kh // 2 + 1]
            return ops.reshape(kernel, (-1, self.filters))

        return kept_weights(
            self, ("patch", rows), self.kernel, self.bias, self.compute_dtype, matrix
        )
