"""keras_ar.layers."""
