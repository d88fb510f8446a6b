"""keras_ar.models."""
