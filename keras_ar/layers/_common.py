"""Plumbing shared by the layers: weight arguments, their config, kernel
and bias creation, and the input checks of the image layers.

Not layers themselves; each layer still lives in its own file.
"""

import keras
from keras import ops

from keras_ar.validation import check_input_rank

_GETTERS = {
    "initializer": keras.initializers,
    "regularizer": keras.regularizers,
    "constraint": keras.constraints,
}


def set_weight_args(layer, kinds=("initializer",), **values):
    """Stores `kernel_initializer=...`, `bias_regularizer=...` and the like
    on `layer`, each through its Keras getter (`kinds` says which families of
    argument the layer takes; `values` holds them by name)."""
    names = []
    for kind in kinds:
        for weight in ("kernel", "bias"):
            name = f"{weight}_{kind}"
            setattr(layer, name, _GETTERS[kind].get(values.get(name)))
            names.append(name)
    layer._weight_arg_names = tuple(names)


def weight_args_config(layer):
    """The serialized weight arguments that `set_weight_args` stored."""
    return {
        name: _GETTERS[name.split("_", 1)[1]].serialize(getattr(layer, name))
        for name in layer._weight_arg_names
    }


def add_kernel_and_bias(layer, kernel_shape, filters, use_bias):
    """`layer.kernel` of `kernel_shape` and `layer.bias` `(filters,)` (None
    without `use_bias`), with the weight arguments `set_weight_args` stored."""

    def args(weight):
        return {
            kind: getattr(layer, f"{weight}_{kind}")
            for kind in ("initializer", "regularizer", "constraint")
            if hasattr(layer, f"{weight}_{kind}")
        }

    layer.kernel = layer.add_weight(name="kernel", shape=kernel_shape, **args("kernel"))
    layer.bias = (
        layer.add_weight(name="bias", shape=(filters,), **args("bias"))
        if use_bias
        else None
    )


def add_bias_and_activate(outputs, bias, activation):
    """`activation(outputs + bias)` (no bias when `bias` is None)."""
    if bias is not None:
        outputs = outputs + ops.cast(bias, outputs.dtype)
    return activation(outputs)


def check_feature_maps(
    layer, input_shape, what="NHWC feature maps (batch, height, width, features)"
):
    """Rank-4 input with a known last dimension; returns that dimension."""
    name = type(layer).__name__
    check_input_rank(name, input_shape, 4, what)
    if input_shape[-1] is None:
        noun = "channel" if "images" in what else "feature"
        raise ValueError(f"{name} needs a known {noun} dimension")
    return input_shape[-1]
