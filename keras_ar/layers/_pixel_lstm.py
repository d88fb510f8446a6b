"""The base of PixelRNN's two LSTM layers (`RowLSTM`, `DiagonalBiLSTM`)."""

import keras
from keras import ops

from keras_ar.layers._common import WeightedLayer, check_feature_maps, set_mask_args
from keras_ar.layers.masked_conv2d import MaskedConv2D
from keras_ar.ops.pixel_lstm import gate_bias_init
from keras_ar.validation import check_int


class PixelLSTMLayer(WeightedLayer):
    """What PixelRNN's two LSTM layers (`RowLSTM`, `DiagonalBiLSTM`) share:
    the arguments and their checks, the input check, the gate bias and the
    config. A subclass makes its input-to-state convolutions (in
    `_make_input_to_state`, or after `__init__`) and its state kernels."""

    weight_args = ("kernel_initializer",)

    def __init__(
        self, units, mask_type="B", color_channels=1, unit_forget_bias=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.units = check_int("units", units, minimum=1)
        set_mask_args(self, mask_type, color_channels, "units")
        self.unit_forget_bias = bool(unit_forget_bias)
        self._make_input_to_state()

    def _make_input_to_state(self):
        """Makes the input-to-state convolutions (`_input_to_state_conv`)."""

    def _check_input(self, input_shape):
        check_feature_maps(self, input_shape)

    def _input_to_state_conv(self, kernel_size, name):
        """The masked input-to-state convolution to the four gates."""
        return MaskedConv2D(
            4 * self.units, kernel_size, mask_type=self.mask_type,
            color_channels=self.color_channels, use_bias=False,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            name=name, dtype=self.dtype_policy,
        )  # fmt: skip

    def _add_gate_bias(self, name):
        """The gates' bias, the forget gates' starting at 1 with
        `unit_forget_bias`."""
        bias = gate_bias_init(
            self.units, self.color_channels, 1.0 if self.unit_forget_bias else 0.0
        )
        return self.add_weight(
            name=name,
            shape=bias.shape,
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(bias, dtype),
        )
