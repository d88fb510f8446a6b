"""The LSTM maths of PixelRNN's Row LSTM and Diagonal BiLSTM (keras.ops only).

Gate layout. The `4 * units` gate pre-activations of a PixelRNN LSTM are
laid out colour group by colour group: `(groups, 4, units // groups)`, gates
in the paper's order o, f, i, g within each group. A masked input-to-state
convolution (`MaskedConv2D`, whose colour groups are contiguous blocks of its
outputs) then gives every gate of hidden feature j the colour group of j, so
the elementwise LSTM update keeps the groups apart, and the hidden state
comes out in the contiguous group layout that the next masked layer expects.
With one group this is the usual `[o | f | i | g]` layout.
"""

import keras
import numpy as np
from keras import ops

#: Index of each gate in the `4` axis (the paper's order, eq. 3).
GATES = {"o": 0, "f": 1, "i": 2, "g": 3}


def gate_bias_init(units, groups, forget_bias=1.0):
    """Initial gate bias `(4 * units,)`: `forget_bias` on the forget gates
    (so that the cell state is kept at the start of training, as
    `keras.layers.LSTM(unit_forget_bias=True)` does), zeros elsewhere."""
    bias = np.zeros((groups, 4, units // groups), "float32")
    bias[:, GATES["f"]] = forget_bias
    return bias.reshape(-1)


def lstm_update(gates, cell, groups):
    """One LSTM update: `(h, c)` from gate pre-activations and the cell state.

    c' = sigmoid(f) * c + sigmoid(i) * tanh(g);  h = sigmoid(o) * tanh(c').

    Args:
        gates: `(..., 4 * units)` in the group-major layout above.
        cell: `(..., units)`, the previous cell state.
        groups: colour groups (1 for grayscale, 3 for RGB).
    Returns:
        `(h, c')`, both `(..., units)`.
    """
    units = cell.shape[-1]
    lead = tuple(gates.shape[1:-1])
    # On PyTorch in torch directly (the same operations): an eager sampling
    # step runs this once per layer and pixel, and Keras' dispatch around
    # each small operation costs more than the operation.
    if keras.backend.backend() == "torch":
        import torch

        reshape, sigmoid, tanh = torch.reshape, torch.sigmoid, torch.tanh
    else:
        reshape, sigmoid, tanh = ops.reshape, ops.sigmoid, ops.tanh
    split = reshape(gates, (-1,) + lead + (groups, 4, units // groups))

    def gate(name):
        value = split[..., GATES[name], :]
        return reshape(value, (-1,) + lead + (units,))

    o = sigmoid(gate("o"))
    f = sigmoid(gate("f"))
    i = sigmoid(gate("i"))
    g = tanh(gate("g"))
    cell = f * cell + i * g
    return o * tanh(cell), cell


def skew(x):
    """`(B, H, W, F)` -> `(B, H, W + H - 1, F)`, row i shifted right by i.

    After the skew, column t holds the pixels (i, t - i), one diagonal of
    the image: a left-to-right scan over the columns visits every pixel
    after its left and upper neighbours.
    """
    _, height, width, features = x.shape
    # Pad each row to W + H, flatten, drop the last H values and cut into
    # rows of W + H - 1: each row then starts one further right than the
    # row above.
    x = ops.pad(x, [[0, 0], [0, 0], [0, height], [0, 0]])
    x = ops.reshape(x, (-1, height * (width + height), features))
    x = x[:, : height * (width + height - 1)]
    return ops.reshape(x, (-1, height, width + height - 1, features))


def unskew(x, width):
    """Inverse of `skew`: `(B, H, W + H - 1, F)` -> `(B, H, W, F)`."""
    _, height, skewed_width, features = x.shape
    x = ops.reshape(x, (-1, height * skewed_width, features))
    x = ops.pad(x, [[0, 0], [0, height], [0, 0]])
    x = ops.reshape(x, (-1, height, skewed_width + 1, features))
    return x[:, :, :width]


def skew_valid_mask(height, width):
    """`(H, W + H - 1)` float32 NumPy: 1 where a skewed position is a pixel,
    0 on the padding."""
    # Static sizes (a tracer such as torch.export hands them over as
    # 0-d tensors).
    height, width = int(height), int(width)
    t = np.arange(width + height - 1)[None, :]
    i = np.arange(height)[:, None]
    return ((t >= i) & (t < i + width)).astype("float32")
