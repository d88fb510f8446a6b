"""The background model of the likelihood ratio (Ren et al., 2019).

The background model is the same kind of model trained on inputs in which
each element was replaced, with probability `mu`, by a level drawn
uniformly: the noise destroys the semantics of the data but keeps its
low-level statistics, so log p(x) - log p_background(x) keeps what the
background model cannot explain.
"""

import keras
import numpy as np
from keras import ops

from keras_ar.validation import check_int, check_positive_float


def perturb(x, mu, levels, seed=None):
    """Replaces each element of `x` by a uniform level with probability `mu`.

    Args:
        x: int array of any shape, values in `[0, levels)`.
        mu: the replacement rate, in `[0, 1]`.
        levels: the number of levels (a model's `levels`).
        seed: int seed or a NumPy Generator.
    Returns:
        an int32 array shaped like `x`.
    """
    mu = check_positive_float("mu", mu, allow_zero=True)
    if mu > 1:
        raise ValueError(f"`mu` must be in [0, 1], got {mu}")
    levels = check_int("levels", levels, minimum=2)
    x = np.asarray(x)
    if x.size and (x.min() < 0 or x.max() >= levels):
        raise ValueError(
            f"`x` values must be in [0, {levels}), got min {x.min()} and max {x.max()}"
        )
    rng = np.random.default_rng(seed)
    replace = rng.random(x.shape) < mu
    noise = rng.integers(0, levels, x.shape)
    return np.where(replace, noise, x).astype("int32")


def is_trained(model):
    """True if `model` has taken at least one optimizer step (`fit`,
    `train_on_batch`, or a saved model that had)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return False
    return int(ops.convert_to_numpy(optimizer.iterations)) > 0


def train_background_model(
    model,
    x,
    mu=0.1,
    epochs=1,
    batch_size=64,
    labels=None,
    learning_rate=1e-3,
    weight_decay=0.0,
    seed=0,
    verbose=0,
    **fit_kwargs,
):
    """Builds and trains a background model on perturbed copies of `x`.

    Every epoch sees a fresh perturbation of `x` (rate `mu`).

    Args:
        model: a keras_ar model, whose architecture is copied with fresh
            weights (`from_config`; the model itself is not changed), or a
            function of no arguments that returns a new model.
        x: the in-distribution training data, int `(N, *event_shape)`.
        mu: the perturbation rate (Ren et al. use 0.1 to 0.3 for images).
        epochs: passes over the data.
        batch_size: examples per step.
        labels: class labels, for a class-conditional background model.
        learning_rate: Adam's learning rate.
        weight_decay: > 0 trains with AdamW and this decay (the paper's L2
            regularisation of the background model).
        seed: seed of the perturbations.
        verbose: passed to `fit`.
        **fit_kwargs: more `fit` arguments (e.g. `callbacks`).
    Returns:
        the trained background model; its `history` attribute holds the
        losses of every epoch.
    """
    from keras_ar.models.base import AutoregressiveModel

    if isinstance(model, AutoregressiveModel):
        background = type(model).from_config(model.get_config())
    elif callable(model):
        background = model()
        if not isinstance(background, AutoregressiveModel):
            raise TypeError(
                "`model` must be a keras_ar model or a function returning one; "
                f"the function returned {type(background).__name__}"
            )
    else:
        raise TypeError(
            "`model` must be a keras_ar model or a function returning one, got "
            f"{type(model).__name__}"
        )
    check_int("epochs", epochs, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    weight_decay = check_positive_float("weight_decay", weight_decay, allow_zero=True)
    x = background.validate_x(x)
    if len(x) == 0:
        raise ValueError("`x` is empty: the background model needs training data")
    labels = background.validate_labels(labels, len(x))
    if weight_decay > 0:
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    background.compile(optimizer=optimizer)
    rng = np.random.default_rng(seed)
    losses = {}
    for epoch in range(epochs):
        noisy = perturb(x, mu, background.levels, rng)
        data = background.pack_inputs(noisy, labels)
        history = background.fit(
            data,
            epochs=epoch + 1,
            initial_epoch=epoch,
            batch_size=batch_size,
            verbose=verbose,
            **fit_kwargs,
        )
        for key, values in history.history.items():
            losses.setdefault(key, []).extend(values)
    background.history.history = losses
    background.background_mu = float(mu)
    return background
