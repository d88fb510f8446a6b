"""Export for serving: SavedModels with `serve`, `log_prob` and `generate`.

`model.export(path)` writes one from the TensorFlow or JAX backend;
`export_keras_file` (or `python -m keras_ar.export MODEL.keras OUT_DIR`)
exports a `.keras` file of any backend, torch included, into TF Serving's
versioned layout `OUT_DIR/<version>/`.
"""

from keras_ar.export.cli import export_keras_file
from keras_ar.export.saved_model import export_saved_model, serving_endpoints

__all__ = ["export_keras_file", "export_saved_model", "serving_endpoints"]
