"""Typicality: how far an input's scores are from those of normal inputs.

A likelihood score ranks inputs by one side only: higher NLL, more
anomalous. But a model's normal inputs have NLLs in a narrow band (its
typical set), and inputs far *below* that band are not normal either:
simpler images from elsewhere are the known case (Nalisnick et al., 2019,
"Detecting out-of-distribution inputs to deep generative models using
typicality"). Their test compares an input's NLL with the mean NLL of
held-out normal inputs, on both sides.

`TypicalSet` does this for one score or several at once. It fits a Gaussian
to the scores of reference inputs (normal inputs the model was not trained
on; scikit-learn's `EmpiricalCovariance`) and scores an input by its
squared Mahalanobis distance to them. With one score s, this is the
two-sided test ((s - mean) / std)^2. With several (the NLL and a codec's
length, say), it is the density of the scores' joint distribution, as in
"density of states" estimation (Morningstar et al., 2021): it flags an
input whose NLL is ordinary but too high or too low *for its complexity*.

Example:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> reference = {"nll": rng.normal(3.0, 0.1, 500)}
>>> typical = TypicalSet().fit(reference)
>>> scores = typical.score({"nll": np.array([3.0, 2.5, 3.5])})
>>> bool(scores[0] < 1.0 < min(scores[1], scores[2]))  # too low is atypical too
True
"""

import numpy as np

from keras_ar.anomaly.metrics import check_scores
from keras_ar.optional import import_optional


def _as_matrix(scores, names, what):
    """`(N, K)` float64 from a dict of K 1-D score arrays of one length."""
    if not isinstance(scores, dict) or not scores:
        raise TypeError(
            f"`{what}` must be a non-empty dict of score arrays (name -> (N,)), "
            f"got {type(scores).__name__}"
        )
    if names is not None and sorted(scores) != sorted(names):
        raise ValueError(
            f"`{what}` must hold the scores the TypicalSet was fitted on, "
            f"{sorted(names)}, got {sorted(scores)}"
        )
    columns = []
    for name in names or sorted(scores):
        values = check_scores(f"{what}[{name!r}]", scores[name])
        if columns and len(values) != len(columns[0]):
            raise ValueError(
                f"every array of `{what}` must have one length, got "
                f"{len(columns[0])} and {len(values)} ({name!r})"
            )
        columns.append(values)
    return np.stack(columns, axis=1)


class TypicalSet:
    """Squared Mahalanobis distance of scores to those of normal inputs.

    Fit on the scores of reference inputs (normal, held out of the model's
    training), then `score` any inputs' scores: higher means less typical,
    on either side. Scores are a dict of 1-D arrays, such as
    `anomaly_scores` returns; the names fitted on are the names scored.
    """

    def __init__(self):
        self.names = None
        self._covariance = None

    def fit(self, reference):
        """Fits the mean and covariance of `reference` (a dict of score
        arrays, at least 2 * K + 1 inputs for K scores). Returns self."""
        matrix = _as_matrix(reference, None, "reference")
        count, k = matrix.shape
        if count < 2 * k + 1:
            raise ValueError(
                f"`reference` needs at least {2 * k + 1} inputs for {k} score(s), "
                f"got {count}"
            )
        covariance = import_optional(
            "sklearn.covariance", "keras_ar.anomaly.TypicalSet", "anomaly", "scikit-learn"
        ).EmpiricalCovariance()
        covariance.fit(matrix)
        if not np.all(np.linalg.eigvalsh(covariance.covariance_) > 0):
            raise ValueError(
                "the reference scores are degenerate (a score is constant, or "
                f"one is a linear function of the others): {sorted(reference)}"
            )
        self.names = sorted(reference)
        self._covariance = covariance
        return self

    @property
    def mean(self):
        """The reference scores' mean, one value per name (sorted)."""
        self._require_fitted()
        return dict(zip(self.names, self._covariance.location_))

    def score(self, scores):
        """float64 `(N,)`: each input's squared Mahalanobis distance to the
        reference scores (0 at their mean; about K on average for normal
        inputs with K scores)."""
        self._require_fitted()
        return self._covariance.mahalanobis(_as_matrix(scores, self.names, "scores"))

    def _require_fitted(self):
        if self._covariance is None:
            raise ValueError("this TypicalSet is not fitted: call fit(reference) first")
