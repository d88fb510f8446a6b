"""Detection metrics from scikit-learn: AUROC, AUPRC, FPR at 95% TPR.

Anomalies (out-of-distribution inputs) are the positive class and higher
scores mean more anomalous (as `anomaly_score` returns them).
"""

import numpy as np

from keras_ar.optional import import_optional


def _sklearn_metrics():
    return import_optional(
        "sklearn.metrics", "keras_ar.anomaly's metrics", "anomaly", "scikit-learn"
    )


def check_scores(name, values):
    """`values` as a float64 1-D array, or a ValueError naming `name`: empty,
    not 1-D, or holding NaN or inf."""
    values = np.asarray(values, dtype="float64")
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array of scores, got shape "
            f"{values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"`{name}` holds non-finite scores (NaN or inf)")
    return values


def _labels_and_scores(in_scores, out_scores):
    scores = [
        check_scores(name, values)
        for name, values in (("in_scores", in_scores), ("out_scores", out_scores))
    ]
    labels = np.concatenate([np.zeros(len(scores[0])), np.ones(len(scores[1]))])
    return labels, np.concatenate(scores)


def roc_curve(in_scores, out_scores):
    """`(fpr, tpr)` of detecting `out_scores` among `in_scores` by threshold."""
    labels, scores = _labels_and_scores(in_scores, out_scores)
    fpr, tpr, _ = _sklearn_metrics().roc_curve(labels, scores, drop_intermediate=False)
    return fpr, tpr


def detection_metrics(in_scores, out_scores):
    """How well a score separates anomalies from in-distribution inputs.

    Args:
        in_scores: 1-D scores of in-distribution inputs.
        out_scores: 1-D scores of anomalies (the positive class).
    Returns:
        dict with "auroc" (0.5 is chance, below 0.5 means the score ranks
        anomalies as *more* typical), "auprc" (average precision, anomalies
        positive) and "fpr_at_95_tpr" (the share of in-distribution inputs
        flagged at the lowest threshold that flags 95% of anomalies).
    """
    metrics = _sklearn_metrics()
    labels, scores = _labels_and_scores(in_scores, out_scores)
    fpr, tpr, _ = metrics.roc_curve(labels, scores, drop_intermediate=False)
    return {
        "auroc": float(metrics.roc_auc_score(labels, scores)),
        "auprc": float(metrics.average_precision_score(labels, scores)),
        "fpr_at_95_tpr": float(fpr[np.searchsorted(tpr, 0.95, side="left")]),
    }
