"""Keeps a model's variables visible to PyTorch's module machinery.

On the torch backend a Keras layer registers its variables as torch
parameters (`torch_params`) when Keras' `build()` finishes. keras_ar models
build their sublayers in `__init__` and set `built = True` themselves, and
keep some sublayers in Python lists (which torch does not see as
submodules). `torch.onnx.export`'s tracer and `state_dict()` then miss those
weights ("Cannot insert a Tensor that requires grad as a constant").
`track_variables` registers all of the model's variables on the model
itself, as Keras' `build()` would.
"""

import keras


def track_variables(model):
    """Registers every variable of `model` with torch (no-op elsewhere)."""
    if keras.backend.backend() == "torch":
        model._track_variables()
    return model
