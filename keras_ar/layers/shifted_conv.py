"""Down-shifted and down-right-shifted convolutions (PixelCNN++).

PixelCNN++ (Salimans et al., 2017) replaces masked kernels by small dense
kernels whose padding makes them causal:

- `DownShiftedConv2D` (kernel `(kh, kw)`, `kw` odd): output row `i` sees
  input rows `i - kh + 1 .. i`, columns centred on `j`. A stack of them is
  the "u" stream, which sees only the rows above once its input has been
  shifted down by one row.
- `DownRightShiftedConv2D` (kernel `(kh, kw)`): output `(i, j)` sees rows
  `i - kh + 1 .. i` and columns `j - kw + 1 .. j`: everything above and to
  the left, the "ul" stream.

Their `strides=2` forms downsample; the transposed forms upsample by
`strides` with the same causal offsets: the input is spread onto a
`strides`-times larger grid with zeros in between ("zero stuffing"), then
convolved by the shifted kernel with stride 1. That is exactly a transposed
convolution, written with one kernel layout on every backend. Upsampled
output `(r, c)` reads input `(r // s, c // s)` (and, for the down-shifted
form, its column neighbours), never a later row.

Each layer exposes `padding` (the zeros added above, left and right of its
input) and `convolve(padded)` (the kernel applied with "valid" padding), so
that a cached generation path can apply the very same kernel to a window of
cached activations.
"""

import keras
from keras import ops

from keras_ar.backend.constants import flat_matmul, is_torch_tensor, kept_weights
from keras_ar.backend.conv import conv
from keras_ar.layers._common import INITIALIZERS, WeightedLayer, add_kernel_and_bias
from keras_ar.validation import check_input_rank, check_int, check_kernel_size


def zero_stuff(x, strides):
    """Spreads `(B, H, W, F)` onto `(B, sH, sW, F)`: `x[i, j]` lands at
    `(s i, s j)`, zeros elsewhere (`strides` an int or `(sh, sw)`)."""
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    x = dilate_axis(x, 2, sw)
    return dilate_axis(x, 1, sh)


def dilate_axis(x, axis, stride):
    """Inserts `stride - 1` zeros after each entry along `axis` (1 or 2) of
    a rank-4 tensor."""
    if stride == 1:
        return x
    zeros = ops.zeros_like(x)
    stacked = ops.stack([x] + [zeros] * (stride - 1), axis=axis + 1)
    shape = list(x.shape)
    shape[0] = -1
    shape[axis] = shape[axis] * stride
    return ops.reshape(stacked, shape)


_DEFAULT = object()


class _ShiftedConv2D(WeightedLayer):
    """Shared weights and kernel application of the shifted convolutions.

    A subclass takes its `padding`, `_check` and default `kernel_size` from
    the `_DownShifted` or `_DownRightShifted` mix-in, and, for the transposed
    forms, `transposed` and the default `strides` from `_Upsampling`.
    """

    transposed = False
    default_kernel_size = None
    default_strides = 1
    weight_args = ("use_bias", *INITIALIZERS)

    def __init__(self, filters, kernel_size=_DEFAULT, strides=_DEFAULT, **kwargs):
        super().__init__(**kwargs)
        if kernel_size is _DEFAULT:
            kernel_size = self.default_kernel_size
        if strides is _DEFAULT:
            strides = self.default_strides
        self.filters = check_int("filters", filters, minimum=1)
        self.kernel_size = check_kernel_size("kernel_size", kernel_size, 2)
        self.strides = check_int("strides", strides, minimum=1)
        self._check()

    def _check(self):
        pass

    @property
    def padding(self):
        """`(top, left, right)` zeros added before the valid convolution."""
        raise NotImplementedError

    @property
    def conv_strides(self):
        return 1 if self.transposed else self.strides

    def build(self, input_shape):
        check_input_rank(type(self).__name__, input_shape, 4, "images (B, H, W, F)")
        shape = self.kernel_size + (input_shape[-1], self.filters)
        add_kernel_and_bias(self, shape, self.filters, self.use_bias)

    def pad(self, x):
        top, left, right = self.padding
        return ops.pad(x, [[0, 0], [top, 0], [left, right], [0, 0]])

    def convolve(self, padded):
        """The kernel over already padded input, "valid" padding."""
        one_window = tuple(padded.shape[1:3]) == tuple(self.kernel.shape[:2])
        if one_window and is_torch_tensor(padded):
            # One `addmm` with the weights kept across steps (`kept_weights`).
            weights, bias = kept_weights(
                self, ("window", str(padded.dtype)), self.kernel, self.bias,
                padded.dtype, lambda: ops.reshape(self.kernel, (-1, self.filters)),
            )  # fmt: skip
            return flat_matmul(padded, weights, bias).reshape(-1, 1, 1, self.filters)
        # Cast explicitly: the cached generation path calls this outside
        # `__call__`, where Keras' mixed-precision autocast does not apply.
        kernel = ops.cast(self.kernel, padded.dtype)
        if one_window:
            # One output position (the cached sampling step's window): a
            # matrix product, several times cheaper than a convolution call
            # of that size on every backend's CPU kernels.
            y = ops.tensordot(padded, kernel, axes=[[1, 2, 3], [0, 1, 2]])
            y = ops.reshape(y, (-1, 1, 1, self.filters))
            if self.use_bias:
                y = y + ops.cast(self.bias, y.dtype)
            return y
        return conv(padded, kernel, strides=self.conv_strides, padding="valid", bias=self.bias)

    def call(self, inputs):
        if self.transposed:
            inputs = zero_stuff(inputs, self.strides)
        return self.convolve(self.pad(inputs))

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        s = self.strides
        if self.transposed:
            size = [None if d is None else d * s for d in (height, width)]
        else:
            size = [None if d is None else -(-d // s) for d in (height, width)]
        return (batch, size[0], size[1], self.filters)


class _DownShifted:
    # PixelCNN++'s kernel for this shift, plain or transposed alike.
    default_kernel_size = (2, 3)

    def _check(self):
        if self.kernel_size[1] % 2 == 0:
            raise ValueError(
                f"{type(self).__name__} needs an odd kernel width (centred "
                f"columns), got kernel_size={self.kernel_size}"
            )

    @property
    def padding(self):
        kh, kw = self.kernel_size
        return (kh - 1, (kw - 1) // 2, (kw - 1) // 2)


class _DownRightShifted:
    # PixelCNN++'s kernel for this shift, plain or transposed alike.
    default_kernel_size = (2, 2)

    @property
    def padding(self):
        kh, kw = self.kernel_size
        return (kh - 1, kw - 1, 0)


class _Upsampling:
    """What the two transposed forms share: zero-stuffed input (see
    `_ShiftedConv2D.call`), upsampling by 2 unless told otherwise."""

    transposed = True
    default_strides = 2


@keras.saving.register_keras_serializable(package="keras_ar")
class DownShiftedConv2D(_DownShifted, _ShiftedConv2D):
    """Convolution whose output row `i` sees input rows `<= i` only.

    Zero padding of `kh - 1` rows on top and `(kw - 1) / 2` columns on each
    side, then a "valid" convolution: output `(i, j)` reads rows
    `i - kh + 1 .. i` and columns `j - (kw-1)/2 .. j + (kw-1)/2` (for
    `strides=s`, output `(i, j)` is that window at input `(s i, s j)`; the
    output size is `ceil(H / s), ceil(W / s)`).

    Args:
        filters: output features.
        kernel_size: `(kh, kw)` with `kw` odd; PixelCNN++ uses `(2, 3)`.
        strides: 1, or 2 to downsample.
        use_bias, kernel_initializer, bias_initializer: as in `Conv2D`.

    Example:
    >>> import numpy as np
    >>> conv = DownShiftedConv2D(8, (2, 3), strides=2)
    >>> tuple(conv(np.zeros((1, 5, 6, 4), "float32")).shape)
    (1, 3, 3, 8)
    """


@keras.saving.register_keras_serializable(package="keras_ar")
class DownRightShiftedConv2D(_DownRightShifted, _ShiftedConv2D):
    """Convolution whose output `(i, j)` sees input rows `<= i`, columns `<= j`.

    Zero padding of `kh - 1` rows on top and `kw - 1` columns on the left,
    then a "valid" convolution (with `strides=s`, output `(i, j)` is the
    window ending at input `(s i, s j)`).

    Args:
        filters: output features.
        kernel_size: `(kh, kw)`; PixelCNN++ uses `(2, 2)`.
        strides: 1, or 2 to downsample.
        use_bias, kernel_initializer, bias_initializer: as in `Conv2D`.

    Example:
    >>> import numpy as np
    >>> conv = DownRightShiftedConv2D(8, (2, 2))
    >>> tuple(conv(np.zeros((1, 5, 6, 4), "float32")).shape)
    (1, 5, 6, 8)
    """


@keras.saving.register_keras_serializable(package="keras_ar")
class DownShiftedConv2DTranspose(_Upsampling, _DownShifted, _ShiftedConv2D):
    """Upsampling by `strides` whose output row `r` sees input rows `<= r // s`.

    The input is zero-stuffed to `(sH, sW)` (`x[i, j]` at `(s i, s j)`) and
    convolved by a `DownShiftedConv2D` kernel with stride 1: a transposed
    convolution with the down-shifted causal offsets.

    Args: as `DownShiftedConv2D`, but `strides` is the upsampling factor
        (PixelCNN++ uses 2).

    Example:
    >>> import numpy as np
    >>> down = DownShiftedConv2D(8, (2, 3), strides=2)
    >>> up = DownShiftedConv2DTranspose(4, (2, 3), strides=2)
    >>> tuple(up(down(np.zeros((1, 6, 6, 4), "float32"))).shape)
    (1, 6, 6, 4)
    """


@keras.saving.register_keras_serializable(package="keras_ar")
class DownRightShiftedConv2DTranspose(_Upsampling, _DownRightShifted, _ShiftedConv2D):
    """Upsampling by `strides` whose output `(r, c)` sees input
    `(r // s, c // s)` and the positions above and left of it.

    The input is zero-stuffed to `(sH, sW)` and convolved by a
    `DownRightShiftedConv2D` kernel with stride 1.

    Args: as `DownRightShiftedConv2D`, but `strides` is the upsampling factor
        (PixelCNN++ uses 2).

    Example:
    >>> import numpy as np
    >>> conv = DownRightShiftedConv2DTranspose(8, (2, 2), strides=2)
    >>> tuple(conv(np.zeros((1, 3, 3, 4), "float32")).shape)
    (1, 6, 6, 8)
    """
