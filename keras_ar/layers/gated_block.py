"""`GatedBlock`: one layer of the Gated PixelCNN (van den Oord et al., 2016,
"Conditional Image Generation with PixelCNN Decoders")."""

import keras
import numpy as np
from keras import ops

from keras_ar.backend.constants import constant, derived, flat_matmul
from keras_ar.backend.conv import conv
from keras_ar.backend.slicing import pad_zeros
from keras_ar.layers._common import WeightedLayer, set_mask_args
from keras_ar.masks.pixelcnn import centre_channel_mask
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class GatedBlock(WeightedLayer):
    """A Gated PixelCNN layer: a vertical and a horizontal stack, no blind spot.

    The masked 3x3 convolution of the PixelCNN cannot see the pixels up and to
    the right of the current one (its "blind spot"). The Gated PixelCNN
    splits each layer into two stacks whose union sees every earlier pixel:

    - the vertical stack, a `(k//2 + 1) x k` convolution whose output at row
      `r` reads the input rows `r - k//2 .. r` (all columns within reach);
    - the horizontal stack, a `1 x (k//2 + 1)` convolution over the current
      row, up to and including the current pixel (for mask "A", the first
      layer, excluding the current pixel's value);
    - the link: a 1x1 convolution of the vertical pre-activations, shifted
      down one row, added to the horizontal pre-activations, so that the
      horizontal stack at row `r` only learns about rows `< r` from it.

    Both stacks use the gated activation unit of the paper (eq. 2 and 4)

        y = tanh(W_f * x + V_f^T h) * sigmoid(W_g * x + V_g^T h),

    where `h` is an optional conditioning vector (a one-hot class label or an
    embedding) mapped by a dense layer to a per-feature bias of each gate. The
    horizontal stack ends with a 1x1 convolution and, in mask-"B" layers, a
    residual connection. The vertical output feeds the next layer's vertical
    stack, the horizontal output the next layer's horizontal stack.

    Colour images (`color_channels=3`) split the horizontal features into R,
    G, B groups as in PixelRNN: at the current pixel, a feature of group g
    reads input features of groups `< g` (mask "A") or `<= g` (mask "B"); the
    vertical stack only reaches the horizontal one through earlier rows, so it
    needs no channel mask.

    Besides `call`, the layer exposes the same maths one row or one pixel at a
    time, for cached generation: `vertical_row` and `horizontal_at`.

    Args:
        filters: number of output features `p` of each stack (the gates use
            `2p` pre-activations). A multiple of `color_channels`.
        kernel_size: odd int `k >= 1`: the vertical stack is `(k//2+1) x k`
            and the horizontal stack `1 x (k//2+1)`.
        mask_type: "A" (first layer: the horizontal stack does not see the
            current pixel's own value) or "B" (every later layer).
        color_channels: colour groups of the image (1 grayscale, 3 RGB).
        residual: whether to add the horizontal input to the horizontal
            output. Only used in mask-"B" layers (a mask-"A" layer's input is
            the pixel being predicted); there the horizontal input must have
            `filters` features.
        conditional: whether the layer takes a third input, a conditioning
            vector `(batch, dim)` (e.g. a one-hot class label).
        kernel_initializer, bias_initializer: as in `keras.layers.Conv2D`.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        inputs: `[v, h]` or `[v, h, cond]` (or `v`, with `h` and `cond` as the
            next arguments): `v` and `h` are NHWC tensors with the same
            height and width (in the first layer both are the image).
        h: the horizontal input, when `inputs` is `v` alone.
        cond: the conditioning vector, when `inputs` is `v` alone.

    Returns:
        `[v_out, h_out]`, both `(batch, height, width, filters)`.

    Example:
    >>> import numpy as np
    >>> first = GatedBlock(filters=8, kernel_size=7, mask_type="A")
    >>> block = GatedBlock(filters=8, kernel_size=3)
    >>> x = np.random.uniform(size=(2, 6, 6, 1)).astype("float32")
    >>> v, h = first([x, x])
    >>> v, h = block([v, h])
    >>> tuple(h.shape)
    (2, 6, 6, 8)
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        mask_type="B",
        color_channels=1,
        residual=True,
        conditional=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        if self.kernel_size % 2 == 0:
            raise ValueError(
                "`kernel_size` must be odd so that the vertical stack is "
                f"centred on the current column, got {kernel_size}"
            )
        set_mask_args(self, mask_type, color_channels, "filters")
        if not isinstance(residual, bool):
            raise TypeError(f"`residual` must be a bool, got {residual!r}")
        if not isinstance(conditional, bool):
            raise TypeError(f"`conditional` must be a bool, got {conditional!r}")
        self.residual = residual
        self.conditional = conditional

    # ------------------------------------------------------------------
    @property
    def _pad(self):
        return self.kernel_size // 2

    @property
    def uses_residual(self):
        """Whether the horizontal input is added to the horizontal output."""
        return self.residual and self.mask_type == "B"

    def _split_shapes(self, inputs_shape, h_shape, cond_shape):
        if h_shape is None:
            if (
                not isinstance(inputs_shape, (list, tuple))
                or not inputs_shape
                or not isinstance(inputs_shape[0], (list, tuple, type(None)))
            ):
                raise ValueError(
                    f"{type(self).__name__} expects [v, h] or [v, h, cond], got "
                    f"a single input of shape {inputs_shape}"
                )
            shapes = list(inputs_shape)
        else:
            shapes = [inputs_shape, h_shape] + ([cond_shape] if cond_shape else [])
        if len(shapes) not in (2, 3):
            raise ValueError(
                f"{type(self).__name__} expects [v, h] or [v, h, cond], got "
                f"{len(shapes)} inputs"
            )
        v_shape, h_shape = tuple(shapes[0]), tuple(shapes[1])
        cond_shape = tuple(shapes[2]) if len(shapes) == 3 else None
        return v_shape, h_shape, cond_shape

    def _check_shapes(self, v_shape, h_shape, cond_shape):
        name = type(self).__name__
        for what, shape in (("v", v_shape), ("h", h_shape)):
            if len(shape) != 4:
                raise ValueError(
                    f"{name} expects NHWC feature maps (rank 4) for `{what}`, "
                    f"got an input of shape {shape}"
                )
            if shape[-1] is None:
                raise ValueError(f"{name} needs a known channel count for `{what}`")
        for axis, what in ((1, "height"), (2, "width")):
            a, b = v_shape[axis], h_shape[axis]
            if a is not None and b is not None and a != b:
                raise ValueError(
                    f"{name}: `v` and `h` must have the same {what}, got "
                    f"shapes {v_shape} and {h_shape}"
                )
        if self.conditional and cond_shape is None:
            raise ValueError(
                f"{name} was built with conditional=True: pass the conditioning "
                "input as [v, h, cond], with cond of shape (batch, dim)"
            )
        if not self.conditional and cond_shape is not None:
            raise ValueError(
                f"{name} got a conditioning input `cond`, but conditional=False"
            )
        if cond_shape is not None and (len(cond_shape) != 2 or cond_shape[-1] is None):
            raise ValueError(
                f"{name} expects the conditioning input `cond` of shape "
                f"(batch, dim) with a known dim, got {cond_shape}"
            )
        if self.uses_residual and h_shape[-1] != self.filters:
            raise ValueError(
                f"{name}: the residual connection needs `h` with `filters` "
                f"({self.filters}) features, got {h_shape[-1]}; pass "
                "residual=False"
            )

    def build(self, inputs_shape, h_shape=None, cond_shape=None):
        v_shape, h_shape, cond_shape = self._split_shapes(
            inputs_shape, h_shape, cond_shape
        )
        self._check_shapes(v_shape, h_shape, cond_shape)
        k, p, f = self.kernel_size, self._pad, self.filters
        v_in, h_in = v_shape[-1], h_shape[-1]

        # Horizontal stack: only the last tap (the current pixel) is masked.
        # The gate halves (tanh part, sigmoid part) each carry the colour
        # groups, so the `2p` outputs get the group mask twice.
        half = centre_channel_mask(h_in, f, self.mask_type, self.color_channels)
        self._h_centre_mask = np.concatenate([half, half], axis=-1)
        # 1x1 output convolution of the horizontal stack: same-group "B" mask.
        self._h_out_mask = centre_channel_mask(f, f, "B", self.color_channels)

        init_k, init_b = self.kernel_initializer, self.bias_initializer
        self.v_kernel = self.add_weight(
            name="v_kernel", shape=(p + 1, k, v_in, 2 * f), initializer=init_k
        )
        self.v_bias = self.add_weight(name="v_bias", shape=(2 * f,), initializer=init_b)
        self.link_kernel = self.add_weight(
            name="link_kernel", shape=(2 * f, 2 * f), initializer=init_k
        )
        self.h_kernel = self.add_weight(
            name="h_kernel", shape=(1, p + 1, h_in, 2 * f), initializer=init_k
        )
        self.h_bias = self.add_weight(name="h_bias", shape=(2 * f,), initializer=init_b)
        self.h_out_kernel = self.add_weight(
            name="h_out_kernel", shape=(f, f), initializer=init_k
        )
        self.h_out_bias = self.add_weight(
            name="h_out_bias", shape=(f,), initializer=init_b
        )
        if self.conditional:
            dim = cond_shape[-1]
            self.cond_v_kernel = self.add_weight(
                name="cond_v_kernel", shape=(dim, 2 * f), initializer=init_k
            )
            self.cond_h_kernel = self.add_weight(
                name="cond_h_kernel", shape=(dim, 2 * f), initializer=init_k
            )
        self.built = True

    # -- the maths, shared by `call` and the cached path ------------------
    def _weight(self, w):
        return ops.cast(w, self.compute_dtype)

    def _masked_h_kernel(self):
        p = self._pad
        kernel = self._weight(self.h_kernel)
        mask = constant(self, "h_centre_mask", self._h_centre_mask, kernel.dtype)
        # Taps left of the current pixel are all allowed; the last one is the
        # current pixel, where the channel-group mask applies.
        return ops.concatenate([kernel[:, :p], kernel[:, p:] * mask], axis=1)

    def _cond_bias(self, cond, kernel):
        """Per-example gate bias `V^T h`, shaped `(B, 1, 1, 2p)`."""
        bias = ops.matmul(ops.cast(cond, self.compute_dtype), self._weight(kernel))
        return bias[:, None, None, :]

    def _gate(self, pre):
        """The gated activation unit: tanh(a) * sigmoid(b), a|b = pre."""
        a, b = ops.split(pre, 2, axis=-1)
        return ops.tanh(a) * ops.sigmoid(b)

    def _vertical(self, window, cond):
        """Vertical stack on a zero-padded window `(B, rows + k//2, W + 2(k//2),
        C)` -> `(v_out, link)`, each `(B, rows, W, .)`; `link` is the vertical
        contribution to the horizontal stack of the row BELOW."""
        kernel = self._weight(self.v_kernel)
        pre = conv(ops.cast(window, self.compute_dtype), kernel, padding="valid")
        pre = pre + self._weight(self.v_bias)
        if cond is not None:
            pre = pre + self._cond_bias(cond, self.cond_v_kernel)
        link = ops.matmul(pre, self._weight(self.link_kernel))
        return self._gate(pre), link

    def _horizontal(self, window, link, cond, h_in):
        """Horizontal stack on a left-padded window `(B, rows, cols + k//2, C)`,
        with the (already shifted) vertical `link` and the input `h_in` at the
        output positions (for the residual) -> `(B, rows, cols, filters)`."""
        pre = conv(
            ops.cast(window, self.compute_dtype),
            self._masked_h_kernel(),
            padding="valid",
        )
        pre = pre + self._weight(self.h_bias) + link
        if cond is not None:
            pre = pre + self._cond_bias(cond, self.cond_h_kernel)
        gated = self._gate(pre)
        out = ops.matmul(gated, self._masked_out_kernel()) + self._weight(self.h_out_bias)
        if self.uses_residual:
            out = out + ops.cast(h_in, self.compute_dtype)
        return out

    def _masked_out_kernel(self):
        return self._weight(self.h_out_kernel) * constant(
            self, "h_out_mask", self._h_out_mask, self.compute_dtype
        )

    def _horizontal_step(self, window, link, cond, h_in):
        """`_horizontal` at one pixel (`window (B, 1, p + 1, C)`, `link`
        and `h_in` `(B, 1, 1, .)`) as two matrix products, with the masked
        kernels flattened once per set of weights on eager PyTorch
        (`derived`) instead of at every step."""
        f = self.filters
        kernel = derived(
            self, "h_step_kernel",
            lambda: ops.reshape(self._masked_h_kernel(), (-1, 2 * f)), [self.h_kernel],
        )  # fmt: skip
        pre = flat_matmul(window, kernel, self.h_bias) + ops.reshape(link, (-1, 2 * f))
        if cond is not None:
            pre = pre + self._cond_bias(cond, self.cond_h_kernel)[:, 0, 0]
        out_kernel = derived(
            self, "h_out_step_kernel", self._masked_out_kernel, [self.h_out_kernel]
        )
        out = flat_matmul(self._gate(pre), out_kernel, self.h_out_bias)
        if self.uses_residual:
            out = out + ops.cast(ops.reshape(h_in, (-1, f)), out.dtype)
        return ops.reshape(out, (-1, 1, 1, f))

    def _unpack(self, inputs, h, cond):
        if h is None:
            if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
                raise ValueError(
                    f"{type(self).__name__} expects [v, h] or [v, h, cond]"
                )
            v, h = inputs[0], inputs[1]
            cond = inputs[2] if len(inputs) == 3 else None
        else:
            v = inputs
        if self.built and cond is not None and self.conditional:
            dim = self.cond_v_kernel.shape[0]
            if len(cond.shape) != 2 or cond.shape[-1] != dim:
                raise ValueError(
                    f"{type(self).__name__} was built for a conditioning input "
                    f"`cond` of shape (batch, {dim}), got {tuple(cond.shape)}"
                )
        if self.conditional != (cond is not None):
            self._check_shapes(
                tuple(v.shape),
                tuple(h.shape),
                None if cond is None else tuple(cond.shape),
            )
        return v, h, cond

    def call(self, inputs, h=None, cond=None):
        v, h, cond = self._unpack(inputs, h, cond)
        p = self._pad
        v_window = ops.pad(v, [[0, 0], [p, 0], [p, p], [0, 0]])
        v_out, link = self._vertical(v_window, cond)
        # Shift the link down one row: the horizontal stack at row r gets the
        # vertical features of row r - 1, which saw rows <= r - 1 only.
        link = ops.pad(link, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]
        h_window = ops.pad(h, [[0, 0], [0, 0], [p, 0], [0, 0]])
        h_out = self._horizontal(h_window, link, cond, h)
        return [v_out, h_out]

    # -- cached, one row / one pixel at a time ----------------------------
    def vertical_row(self, v_cache, row, cond=None, last_row=None):
        """The vertical stack at one whole row, from its cached inputs.

        Args:
            v_cache: this layer's vertical input `(B, H, W, C)`; rows
                `row - k//2 .. row` must hold their values (others are not
                read), or `.. row - 1` when `last_row` is given.
            row: int or int32 scalar tensor.
            cond: the conditioning vector `(B, dim)` if `conditional`.
            last_row: optional `(B, 1, W, C)`: the input's row `row`, read
                in place of `v_cache`'s (so that a sampling step can read an
                old cache and write the new row afterwards: XLA then updates
                the cache in place instead of copying it).
        Returns:
            `(v_out_row, link_row)`: `(B, 1, W, filters)`, equal to
            `call(...)[0][:, row:row+1]`, and `(B, 1, W, 2 * filters)`, the
            vertical contribution to the horizontal stack of row `row + 1`.
        """
        p = self._pad
        above = p if last_row is not None else p + 1
        rows = ops.cast(row, "int32") - p + ops.arange(above, dtype="int32")
        valid = ops.cast(rows >= 0, v_cache.dtype)[None, :, None, None]
        # Rows above the image are the zero padding of `call`.
        window = ops.take(v_cache, ops.maximum(rows, 0), axis=1) * valid
        if last_row is not None:
            window = ops.concatenate([window, ops.cast(last_row, window.dtype)], axis=1)
        window = pad_zeros(window, [[0, 0], [0, 0], [p, p], [0, 0]])
        return self._vertical(window, cond)

    def horizontal_at(self, h_cache, link_row, row, col, cond=None):
        """The horizontal stack at one pixel, from its cached inputs.

        Args:
            h_cache: this layer's horizontal input `(B, H, W, C)`; pixels
                `(row, col - k//2 .. col)` must hold their values (at `col`
                itself, the channels the mask lets the pixel see).
            link_row: the `link_row` that `vertical_row` gave for `row - 1`
                `(B, 1, W, 2 * filters)` (zeros for row 0).
            row, col: int or int32 scalar tensors.
            cond: the conditioning vector `(B, dim)` if `conditional`.
        Returns:
            `(B, 1, 1, filters)`, equal to `call(...)[1][:, row, col]` (with
            the row and column axes kept).
        """
        p = self._pad
        row = ops.cast(row, "int32")
        col = ops.cast(col, "int32")
        cols = col - p + ops.arange(p + 1, dtype="int32")
        valid = ops.cast(cols >= 0, h_cache.dtype)[None, None, :, None]
        line = ops.take(h_cache, ops.reshape(row, (1,)), axis=1)  # (B, 1, W, C)
        window = ops.take(line, ops.maximum(cols, 0), axis=2) * valid
        link = ops.take(link_row, ops.reshape(col, (1,)), axis=2)
        h_in = ops.take(line, ops.reshape(col, (1,)), axis=2)
        return self._horizontal_step(window, link, cond, h_in)

    # ------------------------------------------------------------------
    def compute_output_shape(self, inputs_shape, h_shape=None, cond_shape=None):
        v_shape, h_shape, _ = self._split_shapes(inputs_shape, h_shape, cond_shape)
        out = tuple(v_shape[:-1]) + (self.filters,)
        return [out, tuple(h_shape[:-1]) + (self.filters,)]
