"""Backend-agnostic maths shared by the layers and models (keras.ops only)."""

from keras_ar.ops.categorical import categorical_log_prob, sample_categorical
from keras_ar.ops.mu_law import mu_law_decode, mu_law_encode

__all__ = [
    "categorical_log_prob",
    "mu_law_decode",
    "mu_law_encode",
    "sample_categorical",
]
