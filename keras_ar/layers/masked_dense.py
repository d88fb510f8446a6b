"""`MaskedDense`: a dense layer with a fixed binary connectivity mask (MADE)."""

import keras
import numpy as np
from keras import ops

from keras_ar.backend.constants import activate, derived, eager_torch
from keras_ar.backend.slicing import cast, loop_slice
from keras_ar.layers._common import (
    CONSTRAINTS,
    INITIALIZERS,
    REGULARIZERS,
    WeightedLayer,
    add_bias_and_activate,
    add_kernel_and_bias,
    known_last_dim,
)
from keras_ar.validation import check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class MaskedDense(WeightedLayer):
    """Like `keras.layers.Dense`, with the kernel multiplied by a binary mask.

    `outputs = activation(inputs @ (kernel * mask) + bias)`. The product is
    taken inside `call`, so the stored kernel is never overwritten: a masked
    entry simply gets no gradient, and the layer behaves the same eagerly,
    under `jax.jit` and in `tf.function`. This is the building block of MADE
    (Germain et al., 2015), whose masks come from
    `keras_ar.masks.made.made_masks`.

    The mask is part of the layer's state twice over, so that it survives
    `.keras` save/load either way: it is in `get_config()` (a layer made from
    its config alone is complete) and it is a non-trainable weight named
    "mask" (saved with the other weights, shown by `summary()`).

    A stack of masks `(num_masks, in, units)` sharing one kernel is also
    accepted, for MADE's connectivity-agnostic training: `call(inputs,
    mask_index=k)` then uses the k-th mask (`mask_index` may be a tensor).

    Args:
        units: number of outputs (>= 1).
        mask: binary array `(in_features, units)` or
            `(num_masks, in_features, units)`; None for no mask (a plain
            dense layer). Checked against the input size in `build`.
        activation: Keras activation applied after the bias.
        use_bias: whether to add a bias (never masked).
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: as in
            `keras.layers.Dense`.

    Example:

    >>> import numpy as np
    >>> mask = np.triu(np.ones((3, 3)), k=1)  # output j reads inputs i < j
    >>> layer = MaskedDense(3, mask=mask)
    >>> tuple(layer(np.ones((2, 3), "float32")).shape)
    (2, 3)
    """

    weight_args = ("use_bias", *INITIALIZERS, *REGULARIZERS, *CONSTRAINTS)

    def __init__(
        self,
        units,
        mask=None,
        activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_int("units", units, minimum=1)
        self.mask_values = _check_mask(mask, self.units)
        self.activation = keras.activations.get(activation)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    @property
    def num_masks(self):
        """How many masks the layer holds (1 for a single 2-D mask or none)."""
        if self.mask_values is None or self.mask_values.ndim == 2:
            return 1
        return self.mask_values.shape[0]

    def build(self, input_shape):
        in_features = known_last_dim(self, input_shape)
        if self.mask_values is not None and self.mask_values.shape[-2] != in_features:
            raise ValueError(
                f"`mask` has shape {self.mask_values.shape}, which needs "
                f"{self.mask_values.shape[-2]} input features, but the input has "
                f"{in_features} (input shape {tuple(input_shape)})"
            )
        add_kernel_and_bias(self, (in_features, self.units), self.units, self.use_bias)
        if self.mask_values is not None:
            values = self.mask_values
            self.mask = self.add_weight(
                name="mask",
                shape=values.shape,
                initializer=lambda shape, dtype=None: ops.convert_to_tensor(
                    values, dtype or "float32"
                ),
                trainable=False,
            )
        else:
            self.mask = None
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: in_features})

    # ------------------------------------------------------------------
    def _mask_at(self, mask_index):
        if self.mask_values.ndim == 2:
            return self.mask.value
        index = 0 if mask_index is None else mask_index
        return ops.take(self.mask.value, index, axis=0)

    def masked_kernel(self, mask_index=None):
        """`kernel * mask` (the `mask_index`-th mask for a stack)."""
        if self.mask is None:
            return self.kernel
        return self.kernel * ops.cast(self._mask_at(mask_index), self.kernel.dtype)

    def _kept_kernel(self, mask_index, dtype):
        """`masked_kernel(mask_index)` in `dtype`, made once per set of
        weights on eager PyTorch (`keras_ar.backend.constants.derived`):
        a sampling step reads a few of its rows or columns, and masking
        them again at every step cost more than the product."""
        sources = [self.kernel] if self.mask is None else [self.kernel, self.mask]
        return derived(
            self, ("masked", mask_index, dtype),
            lambda: ops.cast(self.masked_kernel(mask_index), dtype), sources,
        )  # fmt: skip

    def _finish(self, outputs, bias):
        return add_bias_and_activate(outputs, bias, self.activation)

    def call(self, inputs, mask_index=None):
        kernel = ops.cast(self.masked_kernel(mask_index), self.compute_dtype)
        outputs = ops.matmul(ops.cast(inputs, self.compute_dtype), kernel)
        return self._finish(outputs, self.bias)

    # -- partial products, for incremental (cached) generation ------------
    def call_rows(self, inputs, start, mask_index=None):
        """`inputs @ (kernel * mask)[start:start + k]` for `inputs (..., k)`.

        The pre-activation contribution of input features `[start,
        start + k)` alone (no bias, no activation): adding it to a running
        pre-activation updates it when those inputs become known. Only
        `k` kernel rows are read; `start` may be a tensor.
        """
        size = ops.shape(inputs)[-1]
        if eager_torch(inputs):
            # The masked kernel, kept for the sampling call: a view of k rows.
            inputs = cast(inputs, self.compute_dtype)
            kernel = self._kept_kernel(mask_index, inputs.dtype)
            return inputs @ kernel[int(start) : int(start) + size]
        kernel = loop_slice(self.kernel.value, [start, 0], [size, self.units])
        if self.mask is not None:
            mask = self._mask_at(mask_index)
            kernel = kernel * ops.cast(
                loop_slice(mask, [start, 0], [size, self.units]), kernel.dtype
            )
        return ops.matmul(
            ops.cast(inputs, self.compute_dtype), ops.cast(kernel, self.compute_dtype)
        )

    def call_columns(self, inputs, start, size, mask_index=None, activation=True):
        """`call(inputs)[..., start:start + size]`, reading only those columns
        of the kernel (and bias); `start` may be a tensor, `size` is an int."""
        if eager_torch(inputs):
            # The masked kernel, kept for the sampling call: `size` columns.
            start, inputs = int(start), cast(inputs, self.compute_dtype)
            kernel = self._kept_kernel(mask_index, inputs.dtype)
            outputs = inputs @ kernel[:, start : start + size]
            if self.bias is not None:
                outputs = outputs + self.bias.value[start : start + size].to(outputs.dtype)
            return activate(self.activation, outputs) if activation else outputs
        in_features = ops.shape(self.kernel)[0]
        kernel = loop_slice(self.kernel.value, [0, start], [in_features, size])
        if self.mask is not None:
            mask = self._mask_at(mask_index)
            kernel = kernel * ops.cast(
                loop_slice(mask, [0, start], [in_features, size]), kernel.dtype
            )
        outputs = ops.matmul(
            ops.cast(inputs, self.compute_dtype), ops.cast(kernel, self.compute_dtype)
        )
        bias = (
            None if self.bias is None else loop_slice(self.bias.value, [start], [size])
        )
        if bias is not None:
            outputs = outputs + ops.cast(bias, outputs.dtype)
        return self.activation(outputs) if activation else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _config_values(self):
        # The exact mask, as nested lists of 0/1 ints: the layer is
        # reproducible from its config alone.
        mask = self.mask_values
        return {"mask": None if mask is None else mask.astype("int64").tolist()}


def _check_mask(mask, units):
    """The mask as a float32 NumPy array (or None), after checking it."""
    if mask is None:
        return None
    if isinstance(mask, (list, tuple)):
        try:
            mask = np.asarray(mask, dtype="float32")
        except (TypeError, ValueError):
            mask = np.asarray(mask, dtype=object)
    elif not isinstance(mask, np.ndarray):
        try:
            mask = keras.ops.convert_to_numpy(mask)
        except Exception:  # noqa: BLE001 - report any unconvertible value alike
            mask = np.asarray(mask, dtype=object)
    if mask.dtype == object or mask.ndim not in (2, 3):
        raise ValueError(
            "`mask` must be a binary array of shape (in_features, units) or "
            f"(num_masks, in_features, units), got {_describe(mask)}"
        )
    if mask.shape[-1] != units:
        raise ValueError(
            f"`mask` must have `units` ({units}) columns, got shape {mask.shape}"
        )
    if mask.size and not np.all((mask == 0) | (mask == 1)):
        raise ValueError("`mask` must hold only 0s and 1s (it is a binary mask)")
    return mask.astype("float32")


def _describe(mask):
    shape = getattr(mask, "shape", None)
    return f"shape {shape}" if shape is not None else repr(mask)
