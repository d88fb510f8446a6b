"""A whole sequence of Keras' LSTM or GRU cell as one native PyTorch call.

`keras.layers.RNN(LSTMCell(...))` steps through the sequence in Python on
PyTorch: at every position a cell call of about fifteen Keras operations,
and as many again backward. JAX and TensorFlow compile the same loop into
one program (`lax.scan`, `tf.while_loop`). PyTorch's own recurrent kernels
(`torch.lstm` and `torch.gru`, cuDNN on CUDA) run the same recurrence in
one call, forward and backward, from the same weights:

- LSTM: Keras' kernel columns are the gates [i, f, c, o], PyTorch's rows
  [i, f, g, o]: the same order, transposed. PyTorch adds two biases; the
  second is zero.
- GRU with `reset_after=True` (Keras' default): Keras' columns are
  [z, r, h], PyTorch's rows [r, z, n], so the first two blocks swap; its
  candidate `n = tanh(W_n x + b_in + r * (U_n h + b_hn))` is Keras'
  reset-after formula, with Keras' bias rows (input, recurrent) as
  PyTorch's two biases.

`run_rnn(rnn, x)` is `rnn(x)` for a `keras.layers.RNN`, through
`fused_sequence` where that applies. (A call, not an `RNN` subclass: a
subclass would change where a `.keras` file keeps the cell's weights, and
files saved before would no longer load.) `fused_sequence` returns None
wherever the two would not compute the same function (other activations,
no bias, dropout in the cell, a GRU that resets before the product, a
mask, a subclassed cell, half precision on the CPU, a cell whose compute
dtype is not the input's) or where a tracer for export or ONNX is running
(those exporters then see the cell loop they always saw); the caller then
runs Keras' loop.
"""

import keras

_FUSED_DTYPES_CPU = ("float32", "float64")


def run_rnn(rnn, sequences, training=False):
    """`rnn(sequences, training=training)` for a built `keras.layers.RNN`
    started from zero states, as one `torch.lstm` / `torch.gru` call where
    `fused_sequence` applies (same outputs, states and gradients).

    Args:
        rnn: a `keras.layers.RNN` (not stateful).
        sequences: `(batch, time, features)`.
        training: as for the layer's call.
    Returns:
        what `rnn(sequences)` returns: the outputs (all positions with
        `return_sequences`, else the last), then the final states with
        `return_state`.
    """
    if (
        keras.backend.backend() == "torch"
        and type(rnn) is keras.layers.RNN
        and rnn.built
        and not rnn.stateful
    ):
        import torch

        if torch.is_tensor(sequences) and sequences.dim() == 3:
            zeros = rnn.get_initial_state(sequences.shape[0])
            zeros = zeros if isinstance(zeros, (list, tuple)) else [zeros]
            fused = fused_sequence(
                rnn.cell, sequences, list(zeros), training, reverse=rnn.go_backwards
            )
            if fused is not None:
                last, outputs, states = fused
                outputs = outputs if rnn.return_sequences else last
                return [outputs, *states] if rnn.return_state else outputs
    return rnn(sequences, training=training)


def fused_sequence(cell, sequences, initial_state, training=False, reverse=False):
    """`(last_output, outputs, states)` for `keras.layers.RNN`'s
    `inner_loop`, from one `torch.lstm` / `torch.gru` call, or None where
    that call would not compute the cell's function.

    Args:
        cell: the RNN's cell.
        sequences: `(batch, time, features)`.
        initial_state: the list of `(batch, units)` states.
        training: whether the cell's dropout would apply.
        reverse: the RNN's `go_backwards`.
    Returns:
        outputs of every position `(batch, time, units)`, and the final
        states as a list; or None.
    """
    if keras.backend.backend() != "torch" or reverse:
        return None
    import torch

    if _tracing_for_export(torch):
        return None
    kind = _kind(cell)
    if kind is None or (training and (cell.dropout or cell.recurrent_dropout)):
        return None
    x = sequences
    if not torch.is_tensor(x) or x.dim() != 3 or x.shape[1] == 0:
        return None
    if x.device.type == "meta":  # Keras' shape inference: its loop is cheap there
        return None
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype != cell.compute_dtype:  # the cell would cast and compute in its own
        return None
    if x.device.type != "cuda" and dtype not in _FUSED_DTYPES_CPU:
        return None
    params = _params(cell, kind, x.dtype)
    hidden = [torch.as_tensor(s, dtype=x.dtype)[None] for s in initial_state]
    # (input, hx, params, has_biases, num_layers, dropout, train,
    #  bidirectional, batch_first)
    if kind == "lstm":
        outputs, h, c = torch.lstm(
            x, tuple(hidden), params, True, 1, 0.0, False, False, True
        )
        return outputs[:, -1], outputs, [h[0], c[0]]
    outputs, h = torch.gru(x, hidden[0], params, True, 1, 0.0, False, False, True)
    return outputs[:, -1], outputs, [h[0]]


def _tracing_for_export(torch):
    exporting = getattr(torch.compiler, "is_exporting", lambda: False)
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or exporting()


def _kind(cell):
    """"lstm" or "gru" for a plain Keras cell whose maths PyTorch's kernel
    has, else None."""
    activations = keras.activations
    kind = {keras.layers.LSTMCell: "lstm", keras.layers.GRUCell: "gru"}.get(type(cell))
    if kind is None or not cell.built or not cell.use_bias:
        return None
    if cell.activation is not activations.tanh:
        return None
    if cell.recurrent_activation is not activations.sigmoid:
        return None
    if kind == "gru" and not cell.reset_after:
        return None
    return kind


def _params(cell, kind, dtype):
    """[W_ih, W_hh, b_ih, b_hh] in PyTorch's layout, differentiable with
    respect to the cell's variables (a transpose and a gather, no copy of
    the values into new leaves)."""
    import torch

    kernel = cell.kernel.value.to(dtype)
    recurrent = cell.recurrent_kernel.value.to(dtype)
    bias = cell.bias.value.to(dtype)
    if kind == "lstm":
        return [kernel.t(), recurrent.t(), bias, torch.zeros_like(bias)]

    def swap(w):  # Keras [z, r, h] -> PyTorch [r, z, n] along the last axis
        z, r, h = torch.chunk(w, 3, dim=-1)
        return torch.cat([r, z, h], dim=-1)

    return [swap(kernel).t(), swap(recurrent).t(), swap(bias[0]), swap(bias[1])]
