"""Backend-specific code. The only place in keras_ar that imports tf/jax/torch."""

from keras_ar.backend.compiled_loop import compile_loop
from keras_ar.backend.no_grad import no_grad

__all__ = ["compile_loop", "no_grad"]
