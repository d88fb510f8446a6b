"""A local model: the learned codec of the input-complexity score.

An image model's likelihood is mostly made of local statistics: how well
each pixel follows from its immediate neighbours (smooth backgrounds,
edges). That part says little about *what* the image shows, and it is the
part that makes simple images from elsewhere look likely (Zhang, Zhang &
McDonagh, 2021, "On the Out-of-distribution Generalization of Probabilistic
Image Modelling"). A PixelCNN whose receptive field is a small causal
window models those statistics and nothing else. Its code length, -log2
p_local(x), is the L(x) of the input-complexity score (Serra et al., 2020)
learned from the data instead of fixed by a generic codec: pass the local
model as `codec` to `input_complexity` or `anomaly_scores`. It is a real
code length: `keras_ar.compression.compress(local, x)` writes x in that
many bits plus its header.

Trained on the in-distribution images only (the one-class protocol allows
nothing else), the local model learns their local statistics, and the
score keeps what the full model explains beyond them.
"""

import keras

from keras_ar.validation import check_int, check_positive_float


def local_model(model, window=3, filters=32, num_head_layers=2):
    """A new, untrained `PixelCNN` over `model`'s images that sees only a
    causal `window` x `window` neighbourhood of each sub-pixel.

    The mask "A" convolution of size `window` is its only spatial layer
    (no residual blocks; the head is 1x1), so each conditional reads the
    `window // 2` rows above (`window` columns wide) and the `window // 2`
    pixels to the left.

    Args:
        model: the keras_ar image model to pair it with (its `image_shape`
            and `levels` are copied).
        window: odd size of the neighbourhood (3: the 4 neighbours before
            the pixel).
        filters: features of the network.
        num_head_layers: masked 1x1 ReLU layers before the logits.
    Returns:
        an uncompiled `keras_ar.models.PixelCNN`.
    """
    from keras_ar.models import PixelCNN

    image_shape = getattr(model, "image_shape", None)
    if image_shape is None:
        raise TypeError(
            "`model` must be a keras_ar image model (with `image_shape`), got "
            f"{type(model).__name__}"
        )
    window = check_int("window", window, minimum=1)
    if window % 2 == 0:
        raise ValueError(f"`window` must be odd, got {window}")
    return PixelCNN(
        image_shape=image_shape,
        levels=model.levels,
        filters=check_int("filters", filters, minimum=2),
        kernel_size=window,
        num_residual_blocks=0,
        num_head_layers=check_int("num_head_layers", num_head_layers, minimum=0),
    )


def train_local_model(
    model,
    x,
    window=3,
    filters=32,
    epochs=3,
    batch_size=32,
    learning_rate=3e-3,
    verbose=0,
    **fit_kwargs,
):
    """Builds `local_model(model, window, filters)` and fits it on `x`.

    Args:
        model: the keras_ar image model it will be the codec of.
        x: the in-distribution training images, int `(N, *event_shape)`.
        window: odd size of the causal neighbourhood.
        filters: features of the network.
        epochs: passes over `x` (the model is small: a few are enough).
        batch_size: examples per step.
        learning_rate: Adam's learning rate.
        verbose: passed to `fit`.
        **fit_kwargs: more `fit` arguments (e.g. `callbacks`, `shuffle`).
    Returns:
        the trained local model; `history` holds its losses.

    Example:
    >>> import numpy as np
    >>> from keras_ar import anomaly
    >>> from keras_ar.models import PixelCNN
    >>> x = np.random.default_rng(0).integers(0, 4, (16, 4, 4, 1))
    >>> model = PixelCNN((4, 4, 1), levels=4, filters=8, num_residual_blocks=1)
    >>> model.compile(optimizer="adam")
    >>> _ = model.fit(x, epochs=1, verbose=0)
    >>> local = anomaly.train_local_model(model, x, filters=8, epochs=1)
    >>> local.kernel_size, local.num_residual_blocks
    (3, 0)
    >>> anomaly.input_complexity(model, x[:2], codec=local).shape
    (2,)
    """
    local = local_model(model, window, filters)
    check_int("epochs", epochs, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    learning_rate = check_positive_float("learning_rate", learning_rate)
    x = local.validate_x(x)
    if len(x) == 0:
        raise ValueError("`x` is empty: the local model needs training data")
    local.compile(optimizer=keras.optimizers.Adam(learning_rate))
    local.fit(x, epochs=epochs, batch_size=batch_size, verbose=verbose, **fit_kwargs)
    return local
