"""Backend-specific code. The only place in keras_ar that imports tf/jax/torch."""

from keras_ar.backend.compiled_loop import compile_loop, torch_compile_enabled

__all__ = ["compile_loop", "torch_compile_enabled"]
