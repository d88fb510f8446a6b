"""Likelihood metrics: bits per dimension and perplexity."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_ar")
class NegativeLogLikelihood(keras.metrics.Metric):
    """Accumulates total nats and total dimensions over batches.

    `result()` is the dimension-weighted mean, reported in `unit`:
    "bits" (bits per dimension), "nats" (nats per dimension) or
    "perplexity" (exp of nats per dimension, for language models).
    Weighting by dimensions (not by batch) makes the epoch figure exact
    when batches hold different numbers of unpadded tokens.
    """

    def __init__(self, unit="bits", name=None, **kwargs):
        if unit not in ("bits", "nats", "perplexity"):
            raise ValueError(
                f"`unit` must be 'bits', 'nats' or 'perplexity', got {unit!r}"
            )
        name = name or {"bits": "bits_per_dim", "nats": "nats_per_dim"}.get(
            unit, "perplexity"
        )
        super().__init__(name=name, **kwargs)
        self.unit = unit
        self.total_nats = self.add_variable((), initializer="zeros", name="nats")
        self.total_dims = self.add_variable((), initializer="zeros", name="dims")

    def update_state(self, nats, dims):
        self.total_nats.assign_add(ops.cast(ops.sum(nats), self.dtype))
        self.total_dims.assign_add(ops.cast(ops.sum(dims), self.dtype))

    def result(self):
        mean = self.total_nats / ops.maximum(self.total_dims, 1.0)
        if self.unit == "bits":
            return mean / math.log(2.0)
        if self.unit == "perplexity":
            return ops.exp(mean)
        return mean

    def get_config(self):
        return {**super().get_config(), "unit": self.unit}
