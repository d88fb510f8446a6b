"""`RowLSTM`: the Row LSTM of PixelRNN (van den Oord et al., 2016)."""

import keras
from keras import ops

from keras_ar.backend.constants import derived, flat_matmul
from keras_ar.backend.conv import conv
from keras_ar.backend.scan import scan
from keras_ar.backend.slicing import as_pixel, loop_slice, loop_slice_update
from keras_ar.layers._pixel_lstm import PixelLSTMLayer
from keras_ar.ops.pixel_lstm import lstm_update
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class RowLSTM(PixelLSTMLayer):
    """An LSTM that runs down the image one row at a time.

    For row i (paper, eq. 3):
    `[o, f, i, g] = K^is (*) x_i + K^ss (*) h_{i-1}`, `c_i = f c_{i-1} + i g`,
    `h_i = o tanh(c_i)`. The input-to-state term `K^is (*) x` is a masked
    1 x k convolution along the row (mask "B": left pixels and the pixel
    itself; mask "A" leaves out the pixel's own colour group), computed for
    the whole map at once; the state-to-state term is an unmasked 1 x k
    convolution over the previous row's hidden state, so the rows are a
    sequential scan (`keras.ops.scan` when compiled). A pixel sees its row
    from `k // 2` columns to its left up to itself, and a triangle above it,
    `k // 2` columns wider on each side per row up (stacked layers widen it).

    Colour images (`color_channels=3`) keep the PixelCNN channel groups: a
    hidden feature of group g reads the pixel's own input features of groups
    <= g (< g for mask "A"), and any feature of the rows above.

    For generation, `init_cache` / `call_at` compute the layer at one pixel:
    the state of pixel (r, c) needs only row r's inputs up to c and the
    hidden states of row r - 1, which the cache keeps, so a pixel costs one
    pixel's worth of work.

    Args:
        units: hidden features h (a multiple of `color_channels`).
        kernel_size: odd width k >= 3 of both row convolutions (paper: 3).
        mask_type: "B" (the paper's, for every LSTM layer) or "A".
        color_channels: colour groups (1 for grayscale, 3 for RGB).
        unit_forget_bias: start the forget gates' bias at 1.
        kernel_initializer: initializer of both convolution kernels.

    Example:
    >>> import numpy as np
    >>> layer = RowLSTM(units=8)
    >>> tuple(layer(np.zeros((2, 5, 6, 4), "float32")).shape)
    (2, 5, 6, 8)
    """

    def __init__(
        self,
        units,
        kernel_size=3,
        mask_type="B",
        color_channels=1,
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(units, mask_type, color_channels, unit_forget_bias, **kwargs)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=3)
        if self.kernel_size % 2 == 0:
            raise ValueError(
                "`kernel_size` must be odd (the masked input-to-state "
                f"convolution needs a centre pixel), got {kernel_size}"
            )
        self.input_to_state = self._input_to_state_conv(
            (1, self.kernel_size), "input_to_state"
        )

    def build(self, input_shape):
        self._check_input(input_shape)
        self.input_to_state.build(input_shape)
        self.state_kernel = self.add_weight(
            name="state_kernel",
            shape=(self.kernel_size, self.units, 4 * self.units),
            initializer=self.kernel_initializer,
        )
        self.bias = self._add_gate_bias("bias")

    def _input_gates(self, inputs):
        gates = self.input_to_state(inputs)
        return gates + ops.cast(self.bias, gates.dtype)

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        gates = ops.transpose(self._input_gates(inputs), (1, 0, 2, 3))  # (H, B, W, 4h)
        kernel = ops.cast(self.state_kernel, self.compute_dtype)
        units = self.units
        # h and c travel as one tensor: keras' TensorFlow scan wants each
        # step's output to have the carry's structure.
        zeros = ops.zeros_like(gates[0, ..., : 2 * units])

        def row_step(state, row_gates):
            h, c = state[..., :units], state[..., units:]
            # K^ss (*) h_{i-1}: a "same" 1D convolution along the row.
            row_gates = row_gates + conv(h, kernel, padding="same")
            h, c = lstm_update(row_gates, c, self.color_channels)
            state = ops.concatenate([h, c], axis=-1)
            return state, state

        _, states = scan(row_step, zeros, gates)
        return ops.transpose(states[..., :units], (1, 0, 2, 3))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    # -- cached, one pixel at a time ------------------------------------
    def init_cache(self, batch_size, height, width, dtype="float32"):
        """Zeros: the layer's inputs (for the masked row convolution) and
        the hidden and cell states of two rows, indexed by the row's parity:
        a pixel of row r reads row r - 1's states and writes row r's, so two
        rows are all a step needs (zeros for row -1: h_{-1} = c_{-1} = 0).
        Keeping two rows, not the whole map, also keeps XLA from copying the
        state buffers at every step."""
        pad = self.kernel_size // 2
        features = self.input_to_state.kernel.shape[2]
        return {
            "inputs": self.input_to_state.init_cache(
                batch_size, height, width, features, dtype
            ),
            "h": ops.zeros((batch_size, 2, width + 2 * pad, self.units), dtype),
            "c": ops.zeros((batch_size, 2, width, self.units), dtype),
        }

    def call_at(self, values, cache, row, col):
        """Hidden state `(B, units)` at pixel (row, col) given this pixel's
        input `values` `(B, features)`; returns `(h, cache)`.

        Equals `call(inputs)[:, row, col]` once every pixel before (row, col)
        went through `call_at` (a pixel may go through it again: each call
        recomputes it from the rows above, e.g. once per colour channel).
        On PyTorch the cache's tensors are updated in place
        (`keras_ar.backend.slicing`).
        """
        inputs = self.input_to_state.write_cache(cache["inputs"], values, row, col)
        gates = self.input_to_state.call_at(inputs, row, col)
        gates = gates + ops.cast(self.bias, gates.dtype)
        k, units = self.kernel_size, self.units
        h_all, c_all = cache["h"], cache["c"]
        batch = ops.shape(h_all)[0]
        # Row r's states live at index r % 2 (row -1, all zeros, at 1): read
        # row r - 1's, write row r's. h_{row-1} at columns col - k//2 ..
        # col + k//2 (columns shifted by the zero padding).
        above, here = (row + 1) % 2, row % 2
        h_above = loop_slice(h_all, [0, above, col, 0], [batch, 1, k, units])
        # The state-to-state product over (column, unit) as one matrix
        # product, the kernel flattened once per set of weights (eager
        # PyTorch).
        gates = gates + flat_matmul(h_above, self._state_matrix(gates.dtype))
        c_above = loop_slice(c_all, [0, above, col, 0], [batch, 1, 1, units])[:, 0, 0]
        h, c = lstm_update(gates, ops.cast(c_above, gates.dtype), self.color_channels)
        h_all = loop_slice_update(
            h_all, [0, here, col + k // 2, 0], as_pixel(h, h_all.dtype)
        )
        c_all = loop_slice_update(c_all, [0, here, col, 0], as_pixel(c, c_all.dtype))
        return h, {"inputs": inputs, "h": h_all, "c": c_all}

    def _state_matrix(self, dtype):
        """`state_kernel` `(k, units, 4 units)` as `(k * units, 4 units)`."""

        def make():
            kernel = ops.cast(self.state_kernel, dtype)
            return ops.reshape(kernel, (-1, ops.shape(kernel)[-1]))

        return derived(self, ("state_matrix", str(dtype)), make, [self.state_kernel])
