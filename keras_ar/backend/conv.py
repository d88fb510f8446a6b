"""Channels-last convolutions without layout copies on PyTorch.

keras_ar's layers keep their tensors channels-last, `(batch, *spatial,
channels)`, as Keras does. PyTorch's convolutions take channels-first
shapes, and Keras' `ops.conv` on PyTorch makes them at every call: it
copies the input to a contiguous channels-first tensor, copies it again to
PyTorch's channels-last memory format, and transposes the kernel twice,
forward and again backward. But a contiguous channels-last tensor,
permuted to channels-first, already *is* PyTorch's channels-last memory
format: its CPU (oneDNN) and CUDA (cuDNN) convolutions take it as it is and
return their output in the same format, which permuted back is again a
contiguous channels-last tensor. So here the input and output are views,
never copies. A 1-D convolution runs as a 2-D one over a height of one
(PyTorch has no channels-last format in 1-D).

On JAX and TensorFlow, for "same" padding with strides above 1 and for
more than two spatial axes, `conv` is `ops.conv(...,
data_format="channels_last")` plus the bias.
"""

import keras
from keras import ops

from keras_ar.backend.slicing import torch_tensor


def conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1, bias=None):
    """`ops.conv(inputs, kernel, strides, padding, "channels_last",
    dilation_rate) + bias` for 1-D and 2-D inputs, without layout copies on
    PyTorch (where the bias is added inside the convolution, as
    `torch.nn.Conv2d` does: no separate pass over the output, forward or
    backward).

    Args:
        inputs: `(batch, *spatial, in_channels)`, one or two spatial axes.
        kernel: `(*kernel_size, in_channels, filters)`.
        strides, padding, dilation_rate: as for `ops.conv`.
        bias: None, or `(filters,)`, cast to the output's dtype.
    Returns:
        `(batch, *output_spatial, filters)`.
    """
    spatial = len(kernel.shape) - 2
    if keras.backend.backend() != "torch" or spatial not in (1, 2):
        return _keras_conv(inputs, kernel, strides, padding, dilation_rate, bias)
    strides = _pair(strides, spatial)
    dilation = _pair(dilation_rate, spatial)
    if padding == "same":
        if strides != (1, 1):
            return _keras_conv(inputs, kernel, strides, padding, dilation_rate, bias)
        size = (1, kernel.shape[0]) if spatial == 1 else tuple(kernel.shape[:2])
        # Keras' (and TensorFlow's) "same": the odd padding step goes after.
        total = [(k - 1) * d for k, d in zip(size, dilation)]
        pads = [(t // 2, t - t // 2) for t in total]
    else:
        pads = [(0, 0), (0, 0)]
    return _torch_conv(inputs, kernel, strides, dilation, pads, spatial, bias)


def _keras_conv(inputs, kernel, strides, padding, dilation_rate, bias):
    outputs = ops.conv(
        inputs, kernel, strides=strides, padding=padding,
        data_format="channels_last", dilation_rate=dilation_rate,
    )  # fmt: skip
    if bias is not None:
        outputs = outputs + ops.cast(bias, outputs.dtype)
    return outputs


def _pair(value, spatial):
    value = (value,) if isinstance(value, int) else tuple(value)
    if spatial == 1:
        return (1, value[0])
    return value * 2 if len(value) == 1 else value


def _torch_conv(inputs, kernel, strides, dilation, pads, spatial, bias):
    import torch.nn.functional as F

    x = torch_tensor(inputs)
    w = torch_tensor(kernel)
    if bias is not None:
        bias = torch_tensor(bias, w.dtype)
    if spatial == 1:  # (B, T, C) -> (B, 1, T, C); (k, I, O) -> (1, k, I, O)
        x, w = x[:, None], w[None]
    x = x.permute(0, 3, 1, 2)  # NCHW shape, channels-last memory: a view
    w = w.permute(3, 2, 0, 1)  # (O, I, kh, kw)
    if all(before == after for before, after in pads):
        padding = tuple(before for before, _ in pads)
    else:  # uneven: pad explicitly (F.pad keeps the memory format)
        (top, bottom), (left, right) = pads
        x = F.pad(x, (left, right, top, bottom))
        padding = 0
    y = F.conv2d(x, w, bias, stride=strides, padding=padding, dilation=dilation)
    y = y.permute(0, 2, 3, 1)
    return y[:, 0] if spatial == 1 else y
