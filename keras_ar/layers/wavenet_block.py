"""`WaveNetResidualBlock`: gated, dilated residual block of WaveNet."""

import keras
from keras import ops

from keras_ar.layers._common import arguments_config
from keras_ar.layers.causal_dilated_conv1d import CausalDilatedConv1D
from keras_ar.validation import check_input_rank, check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class WaveNetResidualBlock(keras.layers.Layer):
    """One residual block of WaveNet (van den Oord et al., 2016, Sec. 2.3-2.5).

    For input `x` (batch, time, residual_channels) and an optional global
    conditioning vector `h` (batch, features):

        z = tanh(W_f * x + V_f^T h) * sigmoid(W_g * x + V_g^T h)
        residual_out = x + 1x1_residual(z)
        skip_out = 1x1_skip(z)

    where `*` is a causal dilated convolution (`CausalDilatedConv1D`) and the
    filter and gate convolutions `W_f`, `W_g` are computed as one convolution
    with `2 * residual_channels` outputs. `h` enters as a per-example bias
    (the paper's global conditioning), so a block stays causal in time.

    `step(taps, conditioning)` computes the block's outputs at one time step
    from its `kernel_size` input taps with the same weights, for the queue
    based fast sampler (Paine et al., 2016).

    Args:
        residual_channels: channels of the input and of the residual output;
            the gated activation has as many.
        skip_channels: channels of the skip output.
        kernel_size: taps of the dilated convolution (>= 1; 2 in the paper).
        dilation_rate: dilation of the convolution (>= 1).
        global_conditioning_channels: size of the conditioning vector `h`, or
            `None` for an unconditional block.
        use_residual_projection: False drops the residual 1x1 (then
            `residual_out` is the input unchanged). The last block of a
            WaveNet sets it: only its skip output is read, so the residual
            1x1 would be weights that never get a gradient.
        kernel_initializer: initializer of every kernel.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    ```python
    import numpy as np
    from keras_ar.layers.wavenet_block import WaveNetResidualBlock

    block = WaveNetResidualBlock(
        residual_channels=16, skip_channels=32, dilation_rate=2,
        global_conditioning_channels=4,
    )
    x = np.random.normal(size=(2, 10, 16)).astype("float32")
    h = np.eye(4, dtype="float32")[[0, 3]]        # one-hot speaker ids
    residual, skip = block(x, h)                  # (2, 10, 16), (2, 10, 32)
    ```
    """

    def __init__(
        self,
        residual_channels,
        skip_channels,
        kernel_size=2,
        dilation_rate=1,
        global_conditioning_channels=None,
        use_residual_projection=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.residual_channels = check_int(
            "residual_channels", residual_channels, minimum=1
        )
        self.skip_channels = check_int("skip_channels", skip_channels, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.dilation_rate = check_int("dilation_rate", dilation_rate, minimum=1)
        if global_conditioning_channels is not None:
            global_conditioning_channels = check_int(
                "global_conditioning_channels", global_conditioning_channels, minimum=1
            )
        self.global_conditioning_channels = global_conditioning_channels
        if not isinstance(use_residual_projection, bool):
            raise TypeError(
                "`use_residual_projection` must be a bool, got "
                f"{use_residual_projection!r}"
            )
        self.use_residual_projection = use_residual_projection
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        # W_f and W_g as one convolution: first half filter, second half gate.
        self.dilated_conv = CausalDilatedConv1D(
            2 * self.residual_channels,
            self.kernel_size,
            dilation_rate=self.dilation_rate,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="dilated_conv",
        )
        self.residual_projection = None
        if self.use_residual_projection:
            self.residual_projection = keras.layers.Dense(
                self.residual_channels,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name="residual_projection",
            )
        self.skip_projection = keras.layers.Dense(
            self.skip_channels,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="skip_projection",
        )

    @property
    def queue_size(self):
        """Past inputs a step-wise sampler keeps for this block: `(k-1) d`."""
        return self.dilated_conv.queue_size

    def _check_shapes(self, inputs_shape, conditioning_shape):
        name = type(self).__name__
        check_input_rank(name, inputs_shape, 3, "(batch, time, residual_channels)")
        if inputs_shape[-1] != self.residual_channels:
            raise ValueError(
                f"{name}: the input must have residual_channels="
                f"{self.residual_channels} channels (the residual connection "
                f"adds it to the output), got shape {tuple(inputs_shape)}"
            )
        if self.global_conditioning_channels is None:
            if conditioning_shape is not None:
                raise ValueError(
                    f"{name}: `conditioning` given, but the block was built "
                    "with global_conditioning_channels=None"
                )
            return
        if conditioning_shape is None:
            raise ValueError(
                f"{name}: `conditioning` (batch, "
                f"{self.global_conditioning_channels}) is required, since "
                "global_conditioning_channels="
                f"{self.global_conditioning_channels}"
            )
        if (
            len(conditioning_shape) != 2
            or conditioning_shape[-1] != self.global_conditioning_channels
        ):
            raise ValueError(
                f"{name}: `conditioning` must have shape (batch, "
                f"global_conditioning_channels={self.global_conditioning_channels}"
                f"), got {tuple(conditioning_shape)}"
            )

    def build(self, inputs_shape, conditioning_shape=None):
        self._check_shapes(inputs_shape, conditioning_shape)
        self.dilated_conv.build(inputs_shape)
        if self.global_conditioning_channels is not None:
            # V_f and V_g, one matrix; the convolution already has the bias.
            self.conditioning_kernel = self.add_weight(
                name="conditioning_kernel",
                shape=(self.global_conditioning_channels, 2 * self.residual_channels),
                initializer=self.kernel_initializer,
            )
        gated_shape = tuple(inputs_shape[:-1]) + (self.residual_channels,)
        if self.residual_projection is not None:
            self.residual_projection.build(gated_shape)
        self.skip_projection.build(gated_shape)

    def _gate(self, pre_activation):
        """tanh(filter half) * sigmoid(gate half)."""
        filt = pre_activation[..., : self.residual_channels]
        gate = pre_activation[..., self.residual_channels :]
        return ops.tanh(filt) * ops.sigmoid(gate)

    def _residual(self, inputs, z):
        if self.residual_projection is None:
            return inputs
        return inputs + self.residual_projection(z)

    def _conditioning_bias(self, conditioning, dtype):
        return ops.matmul(
            ops.cast(conditioning, dtype), ops.cast(self.conditioning_kernel, dtype)
        )

    def call(self, inputs, conditioning=None):
        self._check_shapes(
            inputs.shape, None if conditioning is None else conditioning.shape
        )
        pre = self.dilated_conv(inputs)
        if conditioning is not None:
            bias = self._conditioning_bias(conditioning, pre.dtype)
            pre = pre + ops.expand_dims(bias, 1)
        z = self._gate(pre)
        residual_out = self._residual(inputs, z)
        skip_out = self.skip_projection(z)
        return [residual_out, skip_out]

    def step(self, taps, conditioning=None):
        """The block's outputs at one step `t`, from its input taps.

        Args:
            taps: `(batch, kernel_size, residual_channels)`: the block's
                inputs at `t - (k-1) d, ..., t - d, t`, oldest first (zeros
                before the start of the sequence).
            conditioning: `(batch, global_conditioning_channels)` or None.
        Returns:
            `[residual_out, skip_out]` at step `t`: `(batch,
            residual_channels)` and `(batch, skip_channels)`, equal to
            `call(x, conditioning)[i][:, t]`.
        """
        self._check_shapes(
            (taps.shape[0], None, taps.shape[-1]),
            None if conditioning is None else conditioning.shape,
        )
        pre = self.dilated_conv.step(taps)
        if conditioning is not None:
            pre = pre + self._conditioning_bias(conditioning, pre.dtype)
        z = self._gate(pre)
        residual_out = self._residual(taps[:, -1], z)
        skip_out = self.skip_projection(z)
        return [residual_out, skip_out]

    def compute_output_shape(self, inputs_shape, conditioning_shape=None):
        check_input_rank(
            type(self).__name__, inputs_shape, 3, "(batch, time, residual_channels)"
        )
        batch, time = inputs_shape[0], inputs_shape[1]
        return [
            (batch, time, self.residual_channels),
            (batch, time, self.skip_channels),
        ]

    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}
