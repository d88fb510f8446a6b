"""Backend-agnostic maths shared by the layers and models (keras.ops only)."""

from keras_ar.ops.categorical import categorical_log_prob, sample_categorical
from keras_ar.ops.discretized_logistic import (
    discretized_logistic_mixture_log_prob,
    discretized_logistic_mixture_probs,
    sample_discretized_logistic_mixture,
)
from keras_ar.ops.mixture_of_gaussians import (
    gaussian_mixture_cdf,
    gaussian_mixture_log_prob,
    sample_gaussian_mixture,
)
from keras_ar.ops.mu_law import mu_law_decode, mu_law_encode

__all__ = [
    "categorical_log_prob",
    "discretized_logistic_mixture_log_prob",
    "discretized_logistic_mixture_probs",
    "gaussian_mixture_cdf",
    "gaussian_mixture_log_prob",
    "mu_law_decode",
    "mu_law_encode",
    "sample_categorical",
    "sample_discretized_logistic_mixture",
    "sample_gaussian_mixture",
]
