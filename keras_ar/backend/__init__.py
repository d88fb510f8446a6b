"""Backend-specific code. The only place in keras_ar that imports tf/jax/torch."""

from keras_ar.backend.compiled_loop import compile_loop
from keras_ar.backend.saved_model import serving_save_options

__all__ = ["compile_loop", "serving_save_options"]
