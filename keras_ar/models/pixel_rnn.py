"""`PixelRNN` (van den Oord, Kalchbrenner and Kavukcuoglu, 2016)."""

import keras
from keras import ops

from keras_ar.layers.diagonal_bilstm import DiagonalBiLSTM
from keras_ar.layers.row_lstm import RowLSTM
from keras_ar.models.image_model import ImageAutoregressiveModel
from keras_ar.validation import check_choice, check_int

KINDS = ("row_lstm", "diagonal_bilstm")


@keras.saving.register_keras_serializable(package="keras_ar")
class PixelRNN(ImageAutoregressiveModel):
    """PixelRNN: residual 2D LSTMs with a categorical output per sub-pixel.

    Architecture (the paper's Table 1 and section 3.2): a masked "A" 7x7
    convolution to `2 * hidden_dim` features, then `num_layers` residual
    LSTM layers (each reads the `2h` features, produces `h` hidden
    features, which a masked 1x1 convolution brings back to `2h` and adds to
    its input), then ReLU -> masked "B" 1x1 convolution (`2h` features) ->
    ReLU -> masked "B" 1x1 convolution to `channels * levels` logits.
    `kind` picks the LSTM: `"row_lstm"` (`RowLSTM`: rows one after the
    other, a triangular receptive field) or `"diagonal_bilstm"`
    (`DiagonalBiLSTM`: diagonals, the whole past as receptive field; the
    better model in the paper, and the slower one). Colour images use the
    PixelCNN channel groups in every masked convolution, so R, G and B of a
    pixel are modelled one after the other.

    Defaults follow the paper's CIFAR-10 models: 12 LSTM layers of
    h = 128 hidden features (rounded up to a multiple of the channel count,
    so 129 for RGB, since each colour group needs the same number of
    features), a 3-wide Row LSTM kernel, 256 levels.

    `generate(use_cache=True)` carries the LSTM states from pixel to pixel:
    for `"row_lstm"` a pixel's state needs its row's inputs up to the pixel
    and the states of the row above, so each step computes every layer at
    the one pixel being sampled; for `"diagonal_bilstm"` the left-to-right
    direction is computed likewise at the pixel (from its left and upper
    neighbours), and the right-to-left direction of the previous row once
    per row, when a row begins (it needs that whole row). No step
    recomputes rows above the current one. `use_cache=False` runs the whole
    network per step (the reference path); both give the same samples for
    the same seed.

    Args:
        image_shape: `(height, width)` or `(height, width, channels)`.
        levels: values per sub-pixel (256 in the paper).
        kind: `"row_lstm"` or `"diagonal_bilstm"`.
        num_layers: residual LSTM layers (paper: 12 on CIFAR-10).
        hidden_dim: LSTM hidden features h (the residual stream has 2h);
            a multiple of the channel count. None: 128 rounded up to one.
        kernel_size: width k of the Row LSTM's convolutions (odd, >= 3);
            not used by the Diagonal BiLSTM, whose kernels are fixed.
        stem_kernel_size: size of the first, mask "A", convolution.

    Example (every family shares `PixelCNN`'s compile / fit / generate
    workflow; here the two LSTM kinds on colour images):

    >>> row = PixelRNN((3, 3, 3), levels=4, num_layers=1, hidden_dim=6)
    >>> diagonal = PixelRNN((3, 3, 3), levels=4, kind="diagonal_bilstm",
    ...                     num_layers=1, hidden_dim=6)
    >>> [model.steps_per_pixel for model in (row, diagonal)]  # R, G, B in turn
    [3, 3]
    >>> diagonal.generate(num_samples=2, seed=0).shape
    (2, 3, 3, 3)
    """

    config_args = (
        "kind", "num_layers", "hidden_dim", "kernel_size", "stem_kernel_size",
    )  # fmt: skip

    def __init__(
        self,
        image_shape,
        levels=256,
        kind="row_lstm",
        num_layers=12,
        hidden_dim=None,
        kernel_size=3,
        stem_kernel_size=7,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, levels=levels, **kwargs)
        channels = self.image_shape[-1]
        self.kind = check_choice("kind", kind, KINDS)
        self.num_layers = check_int("num_layers", num_layers, minimum=1)
        if hidden_dim is None:
            hidden_dim = -(-128 // channels) * channels
        self.hidden_dim = check_int("hidden_dim", hidden_dim, minimum=1)
        if self.hidden_dim % channels:
            raise ValueError(
                f"`hidden_dim` ({hidden_dim}) must be a multiple of the image's "
                f"channels ({channels}) so that each colour group gets the same "
                f"number of features, e.g. {-(-hidden_dim // channels) * channels}"
            )
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=3)
        self.stem_kernel_size = stem_kernel_size
        width = 2 * self.hidden_dim
        common = dict(color_channels=channels, dtype=self.dtype_policy)
        self.input_conv = self._masked_conv(width, stem_kernel_size, "A", "input_conv")
        self.lstm_layers, self.residual_convs = [], []
        for i in range(self.num_layers):
            if self.kind == "row_lstm":
                lstm = RowLSTM(
                    self.hidden_dim, self.kernel_size, name=f"row_lstm_{i}", **common
                )
            else:
                lstm = DiagonalBiLSTM(
                    self.hidden_dim, name=f"diagonal_bilstm_{i}", **common
                )
            self.lstm_layers.append(lstm)
            self.residual_convs.append(
                self._masked_conv(width, 1, "B", f"residual_{i}")
            )
        self.head_conv = self._masked_conv(width, 1, "B", "head")
        self.logits_conv = self._logits_conv()
        self._build_weights()

    def call(self, inputs, training=False):
        x, _ = self.unpack_inputs(inputs)
        h = self.input_conv(self.scale_inputs(x))
        for lstm, residual in zip(self.lstm_layers, self.residual_convs):
            h = h + residual(lstm(h))
        return self._image_logits(
            self.logits_conv(ops.relu(self.head_conv(ops.relu(h))))
        )

    # -- cached generation -----------------------------------------------
    _stem_cached_layers = "lstm_layers"

    def _cached_pixel_logits(self, state, row, col):
        h, caches = self._stem_at(state, row, col)
        layers = []
        for lstm, residual, layer_cache in zip(
            self.lstm_layers, self.residual_convs, caches
        ):
            out, layer_cache = lstm.call_at(h, layer_cache, row, col)
            h = h + ops.cast(residual.call_pixel(out), h.dtype)
            layers.append(layer_cache)
        logits = self.logits_conv.call_pixel(
            ops.relu(self.head_conv.call_pixel(ops.relu(h)))
        )
        return self._pixel_logits(logits), {**state["cache"], "layers": layers}

    def _eager_step(self, step):
        """On PyTorch, the steps a compiled sampling loop runs eagerly: the
        Diagonal BiLSTM's first step of each row, whose right-to-left sweep
        of the row above is a scan over the row, unrolled by the compiler
        into a graph that took minutes to compile (for 1 step in `width`).
        Same samples either way."""
        return self.kind == "diagonal_bilstm" and self._static_branches(step)["new_row"]
