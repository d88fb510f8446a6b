"""`DiagonalBiLSTM`: the Diagonal BiLSTM of PixelRNN (van den Oord et al., 2016)."""

import keras
from keras import ops

from keras_ar.backend.scan import scan
from keras_ar.backend.slicing import loop_cond, loop_slice, loop_slice_update
from keras_ar.layers._pixel_lstm import PixelLSTMLayer
from keras_ar.ops.pixel_lstm import (
    lstm_update,
    skew,
    skew_valid_mask,
    unskew,
)

DIRECTIONS = ("ltr", "rtl")


@keras.saving.register_keras_serializable(package="keras_ar")
class DiagonalBiLSTM(PixelLSTMLayer):
    """Two LSTMs that sweep the image along its diagonals.

    Each direction skews the map (row i shifted right by i), so that a
    column of the skewed map is a diagonal of the image, and scans the
    columns: `[o, f, i, g] = K^is (*) x + K^ss (*) h_prev` with a 1 x 1
    masked input-to-state convolution and a column-wise 2 x 1 state-to-state
    convolution (the previous column's hidden state at the same and the
    previous row: the pixel's left and upper neighbours), then un-skews.
    The left-to-right direction sees every pixel above-left of a pixel and
    the pixel itself (mask "B"); the right-to-left one runs on the mirrored
    map and its output is shifted down one row before the two are added, so
    that it brings the rows above, up to their right edge, and nothing of
    the pixel's own row: the sum sees the whole past in raster order, with
    no future value and, for mask "A", not the pixel itself.

    Colour images (`color_channels=3`) keep the PixelCNN channel groups at
    the pixel itself (the input-to-state convolutions are masked; the states
    of other pixels are all in the past and mix freely).

    For generation, `init_cache` / `call_at` compute the layer at one pixel:
    the left-to-right state of pixel (r, c) from its left and upper
    neighbours (one pixel of work); the right-to-left direction, whose row
    r - 1 needs that whole row, runs once per row, when row r begins
    (`width` steps, i.e. one step per pixel on average).

    Args: as `RowLSTM`, without `kernel_size` (the convolutions here are
        1 x 1 from the input and 2 x 1 along the diagonals).

    Example:
    >>> import numpy as np
    >>> layer = DiagonalBiLSTM(units=8)
    >>> tuple(layer(np.zeros((2, 5, 6, 4), "float32")).shape)
    (2, 5, 6, 8)
    """

    def _make_input_to_state(self):
        # One set of weights per direction: "ltr" (left to right) and "rtl".
        for direction in DIRECTIONS:
            name = f"{direction}_input_to_state"
            setattr(self, name, self._input_to_state_conv(1, name))

    def build(self, input_shape):
        self._check_input(input_shape)
        for direction in DIRECTIONS:
            getattr(self, f"{direction}_input_to_state").build(input_shape)
            # [0]: the upper neighbour's state, [1]: the previous one along
            # the direction (left for "ltr", right for "rtl").
            kernel = self.add_weight(
                name=f"{direction}_state_kernel",
                shape=(2, self.units, 4 * self.units),
                initializer=self.kernel_initializer,
            )
            setattr(self, f"{direction}_state_kernel", kernel)
            setattr(self, f"{direction}_bias", self._add_gate_bias(f"{direction}_bias"))

    def _bias(self, direction, dtype):
        return ops.cast(getattr(self, f"{direction}_bias"), dtype)

    def _input_gates(self, direction, inputs):
        gates = getattr(self, f"{direction}_input_to_state")(inputs)
        return gates + self._bias(direction, gates.dtype)

    def _pixel_input_gates(self, direction, values):
        gates = getattr(self, f"{direction}_input_to_state").call_pixel(values)
        return gates + self._bias(direction, gates.dtype)

    def _state_gates(self, direction, h_up, h_prev, dtype):
        kernel = ops.cast(getattr(self, f"{direction}_state_kernel"), dtype)
        return ops.matmul(h_up, kernel[0]) + ops.matmul(h_prev, kernel[1])

    def _sweep(self, direction, gates):
        """Left-to-right diagonal LSTM over gate inputs `(B, H, W, 4h)`."""
        _, height, width, _ = gates.shape
        units, dtype = self.units, gates.dtype
        columns = ops.transpose(skew(gates), (2, 0, 1, 3))  # (W + H - 1, B, H, 4h)
        # States on the skew's padding are zeroed, so that the left
        # neighbour of column 0 is a zero state, as the upper one of row 0.
        valid = skew_valid_mask(height, width).T[:, None, :, None]
        valid = ops.convert_to_tensor(valid, dtype)

        def column_step(state, inputs):
            column_gates, column_valid = inputs
            h, c = state[..., :units], state[..., units:]
            h_up = ops.pad(h, [[0, 0], [1, 0], [0, 0]])[:, :-1]
            column_gates = column_gates + self._state_gates(direction, h_up, h, dtype)
            h, c = lstm_update(column_gates, c, self.color_channels)
            state = ops.concatenate([h, c], axis=-1) * column_valid
            return state, state

        # h and c travel as one tensor: keras' TensorFlow scan wants each
        # step's output to have the carry's structure.
        zeros = ops.zeros_like(columns[0, ..., : 2 * units])
        _, states = scan(column_step, zeros, (columns, valid))
        return unskew(ops.transpose(states[..., :units], (1, 2, 0, 3)), width)

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        height = inputs.shape[1]
        ltr = self._sweep("ltr", self._input_gates("ltr", inputs))
        mirrored = ops.flip(self._input_gates("rtl", inputs), axis=2)
        rtl = ops.flip(self._sweep("rtl", mirrored), axis=2)
        # Row r receives the right-to-left states of row r - 1.
        rtl = ops.pad(rtl, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :height]
        return ltr + rtl

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    # -- cached, one pixel at a time ------------------------------------
    def init_cache(self, batch_size, height, width, dtype="float32"):
        """Zeros: left-to-right hidden states (with a zero row and column
        before the image) and cell states of the current row; the current
        row's right-to-left input gates; the right-to-left hidden states of
        the last finished row; the row those belong to."""
        units = self.units
        return {
            "ltr_h": ops.zeros((batch_size, height + 1, width + 1, units), dtype),
            "ltr_c": ops.zeros((batch_size, width + 1, units), dtype),
            "rtl_gates": ops.zeros((batch_size, width, 4 * units), dtype),
            "rtl_h": ops.zeros((batch_size, width, units), dtype),
            "row": ops.zeros((), "int32"),
        }

    def _rtl_row(self, gates, h_above):
        """Right-to-left states `(B, W, h)` of a finished row from its input
        gates `(B, W, 4h)` and the states of the row above."""
        units, dtype = self.units, gates.dtype

        def pixel_step(state, inputs):
            pixel_gates, up = inputs
            h, c = state[..., :units], state[..., units:]
            pixel_gates = pixel_gates + self._state_gates("rtl", up, h, dtype)
            h, c = lstm_update(pixel_gates, c, self.color_channels)
            state = ops.concatenate([h, c], axis=-1)
            return state, state

        xs = (ops.transpose(gates, (1, 0, 2)), ops.transpose(h_above, (1, 0, 2)))
        zeros = ops.zeros_like(xs[0][0, :, : 2 * units])
        _, states = scan(pixel_step, zeros, xs, reverse=True)
        return ops.transpose(states[..., :units], (1, 0, 2))

    def call_at(self, values, cache, row, col):
        """Output `(B, units)` at pixel (row, col) given this pixel's input
        `values` `(B, features)`; returns `(outputs, cache)`.

        Equals `call(inputs)[:, row, col]` once every pixel before (row, col)
        went through `call_at` in raster order (a pixel may go through it
        again, e.g. once per colour channel). On PyTorch the cache's tensors
        are updated in place (`keras_ar.backend.slicing`).
        """
        units = self.units
        row = ops.cast(row, "int32")
        # When a row begins, the row above is complete: run its right-to-
        # left sweep (the only direction that reads pixels to the right).
        new_row = ops.logical_and(row > 0, ops.not_equal(row, cache["row"]))
        rtl_h = loop_cond(
            new_row,
            # Written into the cache's own tensor: the sweep's result is a
            # transposed view on PyTorch, whose other strides would make
            # torch.compile compile the next steps once more.
            lambda: loop_slice_update(
                cache["rtl_h"], [0, 0, 0],
                self._rtl_row(cache["rtl_gates"], cache["rtl_h"]),
            ),
            lambda: cache["rtl_h"],
            key="new_row",  # (see ImageAutoregressiveModel._static_branches)
        )  # fmt: skip
        dtype = rtl_h.dtype
        values = ops.cast(values, self.compute_dtype)
        rtl_gates = self._pixel_input_gates("rtl", values)
        rtl_gates = loop_slice_update(
            cache["rtl_gates"],
            [0, col, 0],
            ops.expand_dims(ops.cast(rtl_gates, dtype), 1),
        )

        ltr_h, ltr_c = cache["ltr_h"], cache["ltr_c"]
        batch = ops.shape(ltr_h)[0]
        gates = self._pixel_input_gates("ltr", values)
        h_up = loop_slice(ltr_h, [0, row, col + 1, 0], [batch, 1, 1, units])
        h_left = loop_slice(ltr_h, [0, row + 1, col, 0], [batch, 1, 1, units])
        c_left = loop_slice(ltr_c, [0, col, 0], [batch, 1, units])

        def flat(v):
            return ops.cast(ops.reshape(v, (batch, units)), gates.dtype)

        gates = gates + self._state_gates("ltr", flat(h_up), flat(h_left), gates.dtype)
        h, c = lstm_update(gates, flat(c_left), self.color_channels)
        ltr_h = loop_slice_update(
            ltr_h,
            [0, row + 1, col + 1, 0],
            ops.reshape(ops.cast(h, dtype), (batch, 1, 1, units)),
        )
        ltr_c = loop_slice_update(
            ltr_c, [0, col + 1, 0], ops.reshape(ops.cast(c, dtype), (batch, 1, units))
        )
        rtl_above = loop_slice(rtl_h, [0, col, 0], [batch, 1, units])
        outputs = h + ops.cast(ops.reshape(rtl_above, (batch, units)), h.dtype)
        cache = {
            "ltr_h": ltr_h, "ltr_c": ltr_c, "rtl_gates": rtl_gates,
            "rtl_h": rtl_h, "row": row,
        }  # fmt: skip
        return outputs, cache
