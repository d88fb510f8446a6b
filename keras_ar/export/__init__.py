"""Export for serving: SavedModels with `serve`, `log_prob` and `generate`.

`model.export(path)` writes one from the TensorFlow or JAX backend;
`python -m keras_ar.export MODEL.keras OUT_DIR` exports a `.keras` file of
any backend (torch included) into TF Serving's versioned layout.
"""

from keras_ar.export.saved_model import export_saved_model, serving_endpoints

__all__ = ["export_saved_model", "serving_endpoints"]
