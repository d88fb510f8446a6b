"""Anomaly and out-of-distribution detection with keras_ar's likelihoods.

A low likelihood alone is a poor anomaly score: a model trained on one set
of images often gives simpler images from elsewhere a *higher* likelihood
than its own test set, because the likelihood is dominated by how easy an
input is to predict (its complexity), not by what it shows. This package
has the raw score and the two corrections that fix most of it, all exact
functions of `model.log_prob`:

- `nll_bits_per_dim`: the raw negative log-likelihood, bits per dimension.
- `likelihood_ratio`: log p(x) - log p_background(x) (bits per dimension)
  with a background model trained on randomly perturbed inputs
  (`train_background_model`, `perturb`), after Ren et al. (2019).
- `input_complexity`: -log2 p(x) - L(x), with L(x) the length in bits of x
  under a lossless codec (`compressed_bits`: PNG or WebP via Pillow, LZMA,
  or a learned one: a small local model, `train_local_model`, after Zhang
  et al. (2021)), after Serra et al. (2020).
- `anomaly_score` / `anomaly_scores`: any (or all) of the three, oriented
  so that higher means more anomalous; `nll_map` / `likelihood_ratio_map`: the same per position
  (pixel, token), to see where an input is unlikely.
- `TypicalSet`: the squared Mahalanobis distance of an input's scores to
  those of held-out normal inputs, two-sided (an NLL far *below* the normal
  band is atypical too), after Nalisnick et al. (2019); with several
  scores, their joint density, after Morningstar et al. (2021).
- `detection_metrics` (AUROC, AUPRC, FPR at 95% TPR from scikit-learn) and
  `plot_heatmaps` / `plot_roc_curves` (matplotlib).

scikit-learn, Pillow and matplotlib are imported when first needed; install
them with the `anomaly` extra (`pip install 'keras-ar[anomaly]'`).
"""

from keras_ar.anomaly.background import is_trained, perturb, train_background_model
from keras_ar.anomaly.local import local_model, train_local_model
from keras_ar.anomaly.metrics import detection_metrics, roc_curve
from keras_ar.anomaly.plots import plot_heatmaps, plot_roc_curves
from keras_ar.anomaly.scores import (
    anomaly_score,
    anomaly_scores,
    compressed_bits,
    input_complexity,
    likelihood_ratio,
    likelihood_ratio_map,
    nll_bits_per_dim,
    nll_map,
)
from keras_ar.anomaly.typicality import TypicalSet

__all__ = [
    "TypicalSet",
    "anomaly_score",
    "anomaly_scores",
    "compressed_bits",
    "detection_metrics",
    "input_complexity",
    "is_trained",
    "likelihood_ratio",
    "likelihood_ratio_map",
    "local_model",
    "nll_bits_per_dim",
    "nll_map",
    "perturb",
    "plot_heatmaps",
    "plot_roc_curves",
    "roc_curve",
    "train_background_model",
    "train_local_model",
]
