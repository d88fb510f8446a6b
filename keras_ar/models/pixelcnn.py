"""`PixelCNN` (van den Oord et al., 2016): the book's chapter-5 model."""

import keras

from keras_ar.layers.pixelcnn_residual_block import PixelCNNResidualBlock
from keras_ar.models.image_model import ImageAutoregressiveModel
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class PixelCNN(ImageAutoregressiveModel):
    """PixelCNN with a categorical output over `levels` per sub-pixel.

    Architecture (the book's Fashion-MNIST model with its defaults): masked
    conv "A" 7x7 -> `num_residual_blocks` x (1x1 -> masked "B" 3x3 -> 1x1,
    plus residual) -> `num_head_layers` x masked "B" 1x1 -> 1x1 to
    `channels * levels` logits. Colour images use the PixelRNN channel
    groups, so R, G and B of a pixel are modelled one after the other.

    `generate(use_cache=True)` computes, at each step, every layer at the one
    pixel being sampled, reading the masked convolutions' past inputs from
    per-layer caches (Ramachandran et al., 2017): the cost of a step does not
    grow with the image size. `use_cache=False` runs the whole network per
    step (the reference path); both give the same samples for the same seed.

    Args:
        image_shape: `(height, width)` or `(height, width, channels)`.
        levels: values per sub-pixel (the book uses 4).
        filters: features of the network (the book uses 128).
        kernel_size: size of the first, mask "A", convolution.
        num_residual_blocks: residual blocks (the book uses 5).
        residual_kernel_size: size of the blocks' masked convolution.
        num_head_layers: masked 1x1 ReLU layers before the logits (book: 2).

    Example:
    >>> import numpy as np
    >>> model = PixelCNN((4, 4, 1), levels=4, filters=16, num_residual_blocks=1)
    >>> model.compile(optimizer="adam")
    >>> x = np.random.randint(0, 4, size=(8, 4, 4, 1))
    >>> _ = model.fit(x, epochs=1, verbose=0)
    >>> model.log_prob(x).shape
    (8,)
    >>> model.generate(num_samples=2, seed=0).shape
    (2, 4, 4, 1)
    """

    config_args = (
        "filters", "kernel_size", "num_residual_blocks", "residual_kernel_size",
        "num_head_layers",
    )  # fmt: skip

    def __init__(
        self,
        image_shape,
        levels=256,
        filters=128,
        kernel_size=7,
        num_residual_blocks=5,
        residual_kernel_size=3,
        num_head_layers=2,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, levels=levels, **kwargs)
        channels = self.image_shape[-1]
        self.filters = check_int("filters", filters, minimum=2)
        self.kernel_size = kernel_size
        self.num_residual_blocks = check_int(
            "num_residual_blocks", num_residual_blocks, minimum=0
        )
        self.residual_kernel_size = residual_kernel_size
        self.num_head_layers = check_int("num_head_layers", num_head_layers, minimum=0)
        self.input_conv = self._masked_conv(
            filters, kernel_size, "A", "input_conv", activation="relu"
        )
        self.residual_blocks = [
            PixelCNNResidualBlock(
                filters,
                residual_kernel_size,
                color_channels=channels,
                name=f"residual_block_{i}",
                dtype=self.dtype_policy,
            )
            for i in range(self.num_residual_blocks)
        ]
        self.head_layers = [
            self._masked_conv(filters, 1, "B", f"head_{i}", activation="relu")
            for i in range(self.num_head_layers)
        ]
        self.logits_conv = self._logits_conv()
        self._build_weights()

    def call(self, inputs, training=False):
        x, _ = self.unpack_inputs(inputs)
        h = self.input_conv(self.scale_inputs(x))
        for block in self.residual_blocks:
            h = block(h)
        for layer in self.head_layers:
            h = layer(h)
        return self._image_logits(self.logits_conv(h))

    # -- cached generation -----------------------------------------------
    _stem_cached_layers = "residual_blocks"

    def _cached_pixel_logits(self, state, row, col):
        h, caches = self._stem_at(state, row, col)
        blocks = []
        for block, block_cache in zip(self.residual_blocks, caches):
            h, block_cache = block.call_at(h, block_cache, row, col)
            blocks.append(block_cache)
        for layer in self.head_layers:
            h = layer.call_pixel(h)
        logits = self._pixel_logits(self.logits_conv.call_pixel(h))
        return logits, {**state["cache"], "layers": blocks}
