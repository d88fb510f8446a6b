"""Backend-specific code. The only place in keras_ar that imports tf/jax/torch."""

from keras_ar.backend.compiled_loop import (
    compile_loop,
    torch_compile_backend,
    torch_compile_enabled,
    torch_compile_explicit,
)
from keras_ar.backend.concrete import is_concrete
from keras_ar.backend.constants import eager_torch
from keras_ar.backend.distribution import num_replicas_in_sync, sum_over_replicas
from keras_ar.backend.no_grad import no_grad
from keras_ar.backend.saved_model import serving_save_options
from keras_ar.backend.scan import scan
from keras_ar.backend.state_guard import keep_variables_on_error
from keras_ar.backend.variables import track_variables

__all__ = [
    "compile_loop",
    "eager_torch",
    "is_concrete",
    "keep_variables_on_error",
    "no_grad",
    "num_replicas_in_sync",
    "scan",
    "serving_save_options",
    "sum_over_replicas",
    "torch_compile_backend",
    "torch_compile_enabled",
    "torch_compile_explicit",
    "track_variables",
]
