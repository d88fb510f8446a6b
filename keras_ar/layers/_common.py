"""Plumbing shared by the layers: weight and mask arguments, the config,
kernel and bias creation, and the input checks.

Not layers themselves; each layer still lives in its own file.
"""

import inspect

import keras
from keras import ops

from keras_ar.masks.pixelcnn import check_color_groups
from keras_ar.validation import check_choice, check_input_rank, check_int

_GETTERS = {
    "activation": keras.activations,
    "initializer": keras.initializers,
    "regularizer": keras.regularizers,
    "constraint": keras.constraints,
}


def set_weight_args(layer, kinds=("initializer",), **values):
    """Stores `kernel_initializer=...`, `bias_regularizer=...` and the like
    on `layer`, each through its Keras getter (`kinds` says which families of
    argument the layer takes; `values` holds them by name)."""
    for kind in kinds:
        for weight in ("kernel", "bias"):
            name = f"{weight}_{kind}"
            setattr(layer, name, _GETTERS[kind].get(values.get(name)))


def arguments_config(layer, **values):
    """The arguments of `layer`'s constructor, for `get_config`.

    Every layer here keeps each (checked) argument in the attribute of the
    same name, so its signature alone says what its config holds, as in
    scikit-learn's `get_params`: no list of names to keep in step with the
    constructor. A Keras object (activation, initializer, regularizer,
    constraint) is serialized by the getter its name ends in; `values` gives
    the arguments stored some other way.
    """
    config = {}
    for name, param in inspect.signature(type(layer).__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in values:
            config[name] = values[name]
            continue
        value = getattr(layer, name)
        getter = _GETTERS.get(name.rsplit("_", 1)[-1])
        config[name] = value if getter is None else getter.serialize(value)
    return config


def set_mask_args(layer, mask_type, color_channels, features):
    """Checks and stores a masked layer's `mask_type` ("A" or "B") and
    `color_channels`; its output size, the attribute named `features`, must
    split evenly into the colour groups."""
    layer.mask_type = check_choice("mask_type", mask_type, ("A", "B"))
    layer.color_channels = check_int("color_channels", color_channels, minimum=1)
    check_color_groups(features, getattr(layer, features), layer.color_channels)


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


def known_last_dim(layer, input_shape, what="last input dimension"):
    """The input's last dimension, which sizes the layer's weights: an error
    naming the layer (and `what` that dimension is) when it is unknown."""
    if input_shape[-1] is None:
        raise ValueError(
            f"{type(layer).__name__} needs a known {what}, got input shape "
            f"{tuple(input_shape)}"
        )
    return int(input_shape[-1])


def check_feature_maps(
    layer, input_shape, what="NHWC feature maps (batch, height, width, features)"
):
    """Rank-4 input with a known last dimension; returns that dimension."""
    check_input_rank(type(layer).__name__, input_shape, 4, what)
    noun = "channel" if "images" in what else "feature"
    return known_last_dim(layer, input_shape, f"{noun} dimension")
