"""Backend-agnostic maths shared by the layers and models (keras.ops only)."""

from keras_ar.ops.categorical import categorical_log_prob, sample_categorical

__all__ = ["categorical_log_prob", "sample_categorical"]
