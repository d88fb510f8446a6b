"""`GatedPixelCNN` (van den Oord et al., 2016, "Conditional Image Generation
with PixelCNN Decoders")."""

import keras
from keras import ops

from keras_ar.backend.slicing import loop_cond, loop_slice, loop_slice_update
from keras_ar.layers.gated_block import GatedBlock
from keras_ar.models.image_model import ImageAutoregressiveModel
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class GatedPixelCNN(ImageAutoregressiveModel):
    """Gated PixelCNN, optionally class-conditional, with a categorical head.

    Architecture: a mask-"A" `GatedBlock` (kernel `first_kernel_size`, fed
    the image as both its vertical and horizontal input), `num_layers - 1`
    mask-"B" `GatedBlock`s with residual horizontal stacks, then a head on
    the horizontal stack: ReLU -> masked 1x1 convolution (`head_units`,
    ReLU) -> masked 1x1 convolution to `channels * levels` logits. The
    vertical/horizontal split removes the PixelCNN's blind spot, and the
    gated units `tanh(.) * sigmoid(.)` replace its ReLUs (paper, section 2).
    Colour images use the PixelRNN channel groups: R, G and B of a pixel are
    modelled one after the other, and every feature map is split into
    `channels` groups.

    With `num_classes`, the model is class-conditional (paper, section 2.3):
    the one-hot label is mapped to a bias of every gate. Call it with
    `{"inputs": x, "labels": y}`, and pass `labels=` to `log_prob` and
    `generate`.

    `generate(use_cache=True)` runs the vertical stack once per row, for the
    row just completed (the vertical stack at row r needs the whole row r, so
    it can only run once row r is known; the horizontal stack of row r + 1
    reads it through the link), and per step only the horizontal stack at
    the pixel being sampled, from per-layer caches of the layer inputs. The
    cost of a step then does not grow with the image size. `use_cache=False`
    runs the whole network per step (the reference path); both give the same
    samples for the same seed.

    Args:
        image_shape: `(height, width)` or `(height, width, channels)`.
        levels: values per sub-pixel (256 for 8-bit images).
        num_classes: number of classes for a class-conditional model, or
            None.
        filters: features of each stack (the paper uses 384 on CIFAR-10; the
            default is small enough for a CPU). A multiple of `channels`;
            96 suits 1, 2, 3 and 4 channels.
        num_layers: gated layers, the first (mask "A") included (paper: 15
            on CIFAR-10, 20 on ImageNet).
        kernel_size: odd kernel size `k` of the mask-"B" layers.
        first_kernel_size: odd kernel size of the mask-"A" layer (7 as in
            PixelCNN).
        head_units: features of the head's hidden 1x1 layer (a multiple of
            `channels`); None means `filters`.
        **kwargs: base `keras.Model` arguments (name, dtype, ...).

    Example:
    >>> import numpy as np
    >>> model = GatedPixelCNN((4, 4), levels=4, num_classes=2, filters=8,
    ...                       num_layers=2)
    >>> model.compile(optimizer="adam")
    >>> x = np.random.randint(0, 4, size=(8, 4, 4, 1))
    >>> y = np.random.randint(0, 2, size=(8,))
    >>> _ = model.fit({"inputs": x, "labels": y}, epochs=1, verbose=0)
    >>> model.log_prob(x, labels=y).shape
    (8,)
    >>> model.generate(num_samples=2, labels=[0, 1], seed=0).shape
    (2, 4, 4, 1)
    """

    config_args = (
        "num_classes",
        "filters",
        "num_layers",
        "kernel_size",
        "first_kernel_size",
        "head_units",
    )

    def __init__(
        self,
        image_shape,
        levels=256,
        num_classes=None,
        filters=96,
        num_layers=7,
        kernel_size=3,
        first_kernel_size=7,
        head_units=None,
        **kwargs,
    ):
        super().__init__(
            image_shape=image_shape, levels=levels, num_classes=num_classes, **kwargs
        )
        channels = self.image_shape[-1]
        self.filters = check_int("filters", filters, minimum=1)
        self.num_layers = check_int("num_layers", num_layers, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.first_kernel_size = check_int(
            "first_kernel_size", first_kernel_size, minimum=1
        )
        if head_units is not None:
            check_int("head_units", head_units, minimum=1)
        self.head_units = head_units
        # Block 0 reads the image (mask "A", no residual); the others read
        # the previous block's stacks.
        self.blocks = [
            GatedBlock(
                self.filters,
                self.kernel_size if i else self.first_kernel_size,
                mask_type="B" if i else "A",
                color_channels=channels,
                residual=i > 0,
                conditional=self.conditional,
                name=f"gated_block_{i}",
                dtype=self.dtype_policy,
            )
            for i in range(self.num_layers)
        ]
        # The head reads only the horizontal stack, which is causal with the
        # channel groups; its 1x1 convolutions keep the groups ("B" masks).
        head_units = self.filters if head_units is None else head_units
        self.head = self._masked_conv(head_units, 1, "B", "head", activation="relu")
        self.logits_conv = self._logits_conv()
        self._build_weights()

    def _condition(self, labels):
        """The conditioning vector of the gates: one-hot labels, or None."""
        if not self.conditional:
            return None
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        return ops.one_hot(labels, self.num_classes, dtype=self.compute_dtype)

    def _block_inputs(self, v, h, cond):
        return [v, h] if cond is None else [v, h, cond]

    def call(self, inputs, training=False):
        x, labels = self.unpack_inputs(inputs)
        cond = self._condition(labels)
        v = h = self.scale_inputs(x)
        for block in self.blocks:
            v, h = block(self._block_inputs(v, h, cond))
        return self._image_logits(self.logits_conv(self.head(ops.relu(h))))

    # -- cached generation -----------------------------------------------
    # Layer l's inputs are cached: the vertical ones `v[l-1]` as whole images
    # (the vertical stack of row r reads rows r - k//2 .. r), the horizontal
    # ones `h[l-1]` as the current row only (the horizontal stack reads the
    # current row up to the current pixel, and every pixel of the row is
    # rewritten before a later pixel reads it). Layer 0 reads the image.
    # `link[l]` is layer l's vertical contribution to the current row, and
    # `vrow` the row whose links they are.
    def _init_cache(self, batch_size, state):
        height, width, _ = self.image_shape
        dtype = self.compute_dtype
        inner = self.num_layers - 1
        return {
            "v": [
                ops.zeros((batch_size, height, width, self.filters), dtype)
                for _ in range(inner)
            ],
            "h": [
                ops.zeros((batch_size, 1, width, self.filters), dtype)
                for _ in range(inner)
            ],
            "link": [
                ops.zeros((batch_size, 1, width, 2 * self.filters), dtype)
                for _ in range(self.num_layers)
            ],
            "vrow": ops.zeros((), "int32"),
        }

    def _vertical_refresh(self, x, cache, row, cond):
        """Runs every layer's vertical stack on row `row - 1`, just completed:
        returns the vertical outputs of that row (one per layer but the last,
        whose vertical output nothing reads) and the links for row `row`.
        The caches are only read here (each layer's new input row is passed
        on as `last_row`); the caller writes the new rows afterwards, so XLA
        updates the caches in place rather than copying them at every step."""
        v_rows, links, last = [], [], None
        for index, block in enumerate(self.blocks):
            # Layer 0 reads the image, complete above row `row`.
            source = self.scale_inputs(x) if index == 0 else cache["v"][index - 1]
            v_row, link = block.vertical_row(source, row - 1, cond, last_row=last)
            links.append(link)
            if index < self.num_layers - 1:
                v_rows.append(v_row)
                last = v_row
        return v_rows, links

    def _old_rows(self, cache, start):
        """What `_vertical_refresh` gives when no row was completed: each
        vertical cache's row at `start` (the row the refresh would write) as
        it is, and the links unchanged, so that writing the rows back changes
        nothing."""
        rows = [
            loop_slice(v, start, [ops.shape(v)[0], 1] + list(ops.shape(v)[2:]))
            for v in cache["v"]
        ]
        return rows, list(cache["link"])

    def _cached_pixel_logits(self, state, row, col):
        cache = state["cache"]
        x = state["x"]
        cond = self._condition(state["labels"]) if self.conditional else None
        row = ops.cast(row, "int32")
        col = ops.cast(col, "int32")
        # A colour pixel takes `channels` steps; only the first step of a row
        # runs the vertical stacks.
        new_row = ops.logical_and(row > 0, ops.not_equal(row, cache["vrow"]))
        # The row the refresh writes: the one just completed (row 0 at the
        # first row, where nothing changes).
        start = [0, ops.maximum(row - 1, 0), 0, 0]
        v_rows, links = loop_cond(
            new_row,
            lambda: self._vertical_refresh(x, cache, row, cond),
            lambda: self._old_rows(cache, start),
            key="new_row",
        )
        links = list(links)
        v_caches = [
            loop_slice_update(v, start, v_row) for v, v_row in zip(cache["v"], v_rows)
        ]
        # The horizontal stacks at (row, col), layer by layer.
        image_row = self.scale_inputs(ops.take(x, ops.reshape(row, (1,)), axis=1))
        h_line = image_row
        h_caches = []
        for index, block in enumerate(self.blocks):
            h = block.horizontal_at(h_line, links[index], 0, col, cond)
            if index < self.num_layers - 1:
                h_line = loop_slice_update(cache["h"][index], [0, 0, col, 0], h)
                h_caches.append(h_line)
        h = ops.reshape(h, (-1, self.filters))
        logits = self.logits_conv.call_pixel(self.head.call_pixel(ops.relu(h)))
        logits = ops.reshape(logits, (-1, self.image_shape[-1], self.levels))
        cache = {"v": v_caches, "h": h_caches, "link": links, "vrow": row}
        return ops.cast(logits, "float32"), cache
