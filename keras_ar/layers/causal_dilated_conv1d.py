"""`CausalDilatedConv1D`: the causal, dilated convolution of WaveNet."""

import keras
from keras import ops

from keras_ar.backend.conv import conv
from keras_ar.layers._common import (
    INITIALIZERS,
    REGULARIZERS,
    WeightedLayer,
    add_kernel_and_bias,
    known_last_dim,
)
from keras_ar.validation import check_input_rank, check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class CausalDilatedConv1D(WeightedLayer):
    """Causal dilated 1-D convolution over `(batch, time, channels)`.

    The output at step `t` is

        y_t = b + sum_{j=0}^{k-1} W_j x_{t - (k-1-j) d}

    with kernel size `k` and dilation `d` (van den Oord et al., 2016, Fig. 3):
    it sees exactly the inputs `t, t-d, ..., t-(k-1)d` and never the future.
    Steps before the start of the sequence read zeros (left zero padding of
    `(k-1) d` steps), so the output has the input's length.

    `step(taps)` computes one output step from its `k` input taps with the
    same kernel, which is what fast generation (Paine et al., 2016) needs:
    a sampler keeps a queue of the past `(k-1) d` inputs per layer and calls
    `step` on the newest step only.

    Args:
        filters: number of output channels (>= 1).
        kernel_size: number of taps `k` (>= 1).
        dilation_rate: spacing `d` between taps (>= 1).
        use_bias: whether to add a bias.
        kernel_initializer: initializer of the `(k, in_channels, filters)`
            kernel.
        bias_initializer: initializer of the bias.
        kernel_regularizer: optional regularizer of the kernel.
        bias_regularizer: optional regularizer of the bias.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    ```python
    import numpy as np
    from keras_ar.layers.causal_dilated_conv1d import CausalDilatedConv1D

    layer = CausalDilatedConv1D(filters=8, kernel_size=2, dilation_rate=4)
    x = np.random.normal(size=(2, 16, 3)).astype("float32")
    y = layer(x)                                 # (2, 16, 8)
    # The same output at t = 10 from the taps x[:, 6] and x[:, 10]:
    y10 = layer.step(x[:, [6, 10]])              # (2, 8)
    ```
    """

    weight_args = ("use_bias", *INITIALIZERS, *REGULARIZERS)

    def __init__(
        self,
        filters,
        kernel_size,
        dilation_rate=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.dilation_rate = check_int("dilation_rate", dilation_rate, minimum=1)

    @property
    def receptive_field(self):
        """How many input steps one output step sees: `(k - 1) d + 1`."""
        return (self.kernel_size - 1) * self.dilation_rate + 1

    @property
    def queue_size(self):
        """Past input steps a step-wise sampler must keep: `(k - 1) d`."""
        return (self.kernel_size - 1) * self.dilation_rate

    def build(self, input_shape):
        check_input_rank(type(self).__name__, input_shape, 3, "(batch, time, channels)")
        self.input_channels = known_last_dim(
            self, input_shape, "number of input channels"
        )
        add_kernel_and_bias(
            self, (self.kernel_size, self.input_channels, self.filters), self.filters,
            self.use_bias,
        )  # fmt: skip

    def call(self, inputs):
        check_input_rank(
            type(self).__name__, inputs.shape, 3, "(batch, time, channels)"
        )
        padded = ops.pad(inputs, [[0, 0], [self.queue_size, 0], [0, 0]])
        return conv(padded, self.kernel, dilation_rate=self.dilation_rate, bias=self.bias)

    def step(self, taps):
        """One output step from its input taps, with the layer's kernel.

        Args:
            taps: `(batch, kernel_size, channels)`: the inputs at steps
                `t - (k-1) d, ..., t - d, t`, oldest first (zeros for steps
                before the start of the sequence).
        Returns:
            `(batch, filters)`: the output at step `t`, equal to
            `call(x)[:, t]`.
        """
        if len(taps.shape) != 3 or (
            taps.shape[1] is not None and taps.shape[1] != self.kernel_size
        ):
            raise ValueError(
                f"`taps` must have shape (batch, kernel_size={self.kernel_size}, "
                f"channels), got {tuple(taps.shape)}"
            )
        kernel = ops.cast(self.kernel, taps.dtype)
        outputs = ops.einsum("bkc,kcf->bf", taps, kernel)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, taps.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        check_input_rank(type(self).__name__, input_shape, 3, "(batch, time, channels)")
        return (input_shape[0], input_shape[1], self.filters)
