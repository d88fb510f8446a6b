"""Anomaly scores: exact functions of a fitted model's `log_prob`.

All scores are in bits per dimension (a dimension is a sub-pixel, or a
scored token of a text model), so that they are comparable across inputs of
different sizes and with the literature.
"""

import io
import lzma
import math

import numpy as np
from keras import ops

from keras_ar.anomaly.background import is_trained
from keras_ar.optional import import_optional
from keras_ar.validation import check_choice, check_int

_LN2 = math.log(2.0)
CODECS = ("png", "webp", "lzma")
METHODS = ("nll", "likelihood_ratio", "complexity")


def _check_model(model, name="model"):
    from keras_ar.models.base import AutoregressiveModel

    if not isinstance(model, AutoregressiveModel):
        raise TypeError(
            f"`{name}` must be a keras_ar model (AutoregressiveModel), got "
            f"{type(model).__name__}"
        )


def _labels_for(model, labels):
    return labels if model.conditional else None


def dims_per_example(model, x):
    """float64 `(N,)`: the dimensions each example of `x` counts: every
    element, or the scored tokens of a text model (the end included)."""
    x = model.validate_x(x)
    if hasattr(model, "token_mask"):
        mask = model.token_mask(ops.convert_to_tensor(x))
        return (
            ops.convert_to_numpy(mask).reshape(len(x), -1).sum(axis=1).astype("float64")
        )
    return np.full((len(x),), float(np.prod(x.shape[1:])))


def nll_bits_per_dim(model, x, labels=None, batch_size=128):
    """Negative log-likelihood of each example, in bits per dimension.

    Args:
        model: a fitted keras_ar model.
        x: int array `(N, *event_shape)` in `[0, model.levels)`.
        labels: class labels, for a class-conditional model.
        batch_size: examples per forward pass (bounds the memory used).
    Returns:
        float64 `(N,)`, `-model.log_prob(x) / (dims * ln 2)`.
    """
    _check_model(model)
    x = model.validate_x(x)
    log_prob = model.log_prob(
        x, labels=_labels_for(model, labels), batch_size=batch_size
    )
    return -log_prob / (dims_per_example(model, x) * _LN2)


def nll_map(model, x, labels=None, batch_size=128):
    """Negative log-likelihood of each position in bits: `(N, H, W)` for
    images (a pixel's channels summed), `(N, length)` for sequences.

    Summed over the positions it is the example's NLL in bits."""
    _check_model(model)
    elements = model.log_prob_elements(
        x, labels=_labels_for(model, labels), batch_size=batch_size
    )
    return -elements / _LN2


def _require_trained(model, name, how):
    """Raises unless `model` (the argument `name`) took an optimizer step;
    `how` says how to train it. A model that never did scores with its
    initial weights: a plausible, meaningless number."""
    if not is_trained(model):
        raise ValueError(
            f"`{name}` has never been trained (its optimizer took no step): {how}"
        )


def check_background(model, background, check_trained=True):
    """Raises unless `background` can be the background model of `model`:
    another keras_ar model over the same inputs (shape and levels) that has
    been trained (unless `check_trained=False`)."""
    _check_model(model)
    _check_model(background, "background")
    if background is model:
        raise ValueError(
            "`background` is `model` itself: the ratio would be 0; train a "
            "background model with keras_ar.anomaly.train_background_model"
        )
    if background.levels != model.levels or tuple(background.event_shape) != tuple(
        model.event_shape
    ):
        raise ValueError(
            "`background` must model the same inputs as `model`: got levels="
            f"{background.levels}, event_shape={tuple(background.event_shape)} "
            f"for levels={model.levels}, event_shape={tuple(model.event_shape)}"
        )
    if check_trained:
        _require_trained(
            background, "background",
            "train it with keras_ar.anomaly.train_background_model (or pass "
            "check_trained=False if its weights were loaded on purpose)",
        )  # fmt: skip


def likelihood_ratio(
    model, background, x, labels=None, batch_size=128, check_trained=True
):
    """The likelihood ratio of Ren et al. (2019), in bits per dimension.

    `(log p_model(x) - log p_background(x)) / (dims * ln 2)`: high for
    inputs the model explains beyond their low-level statistics (in
    distribution), low for anomalies (`anomaly_score` negates it).

    Args:
        model: the fitted model of the in-distribution data.
        background: a model of the same inputs trained on perturbed data
            (`train_background_model`).
        x: int array `(N, *event_shape)`.
        labels: class labels for whichever model is class-conditional.
        batch_size: examples per forward pass.
        check_trained: raise if `background` was never trained.
    Returns:
        float64 `(N,)`.
    """
    check_background(model, background, check_trained)
    x = model.validate_x(x)
    dims = dims_per_example(model, x)
    diff = model.log_prob(
        x, labels=_labels_for(model, labels), batch_size=batch_size
    ) - background.log_prob(
        x, labels=_labels_for(background, labels), batch_size=batch_size
    )
    return diff / (dims * _LN2)


def likelihood_ratio_map(
    model, background, x, labels=None, batch_size=128, check_trained=True
):
    """The likelihood ratio of each position, in bits (as `nll_map`)."""
    check_background(model, background, check_trained)
    return nll_map(background, x, labels, batch_size) - nll_map(
        model, x, labels, batch_size
    )


def _image_codec(codec, **options):
    """`example -> bytes`: a whole image file written by Pillow."""

    def encode(example):
        image_module = import_optional(
            "PIL.Image", f"The {codec.upper()} codec", "anomaly", "Pillow"
        )
        if example.ndim != 3 or example.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"codec='{codec}' needs images (N, height, width, channels) with "
                f"1, 3 or 4 channels, got examples of shape {example.shape}; use "
                "codec='lzma'"
            )
        pixels = example[..., 0] if example.shape[-1] == 1 else example
        buffer = io.BytesIO()
        image_module.fromarray(pixels.astype("uint8")).save(buffer, **options)
        return buffer.getvalue()

    return encode


# PNG at its strongest deflate level; WebP lossless at its slowest, best
# method (a stronger image codec: Serra et al. found that the better the
# compressor, the better the complexity score).
_ENCODERS = {
    "png": _image_codec("png", format="PNG", compress_level=9),
    "webp": _image_codec(
        "webp", format="WEBP", lossless=True, quality=100, method=6, exact=True
    ),
}


def _encode_lzma(example):
    data = example.astype("uint8" if example.max(initial=0) < 256 else "<u4")
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
    return lzma.compress(data.tobytes(), format=lzma.FORMAT_RAW, filters=filters)


def _is_model(codec):
    from keras_ar.models.base import AutoregressiveModel

    return isinstance(codec, AutoregressiveModel)


def _check_codec_model(codec, x, levels):
    """Raises unless the keras_ar model `codec` can code `x`: trained, and
    over the same inputs (shape and levels)."""
    if codec.levels != levels:
        raise ValueError(
            f"`codec` models levels={codec.levels}, but `levels` is {levels}"
        )
    if tuple(codec.event_shape) != tuple(x.shape[1:]):
        raise ValueError(
            f"`codec` models inputs of shape {tuple(codec.event_shape)}, but "
            f"`x` holds examples of shape {tuple(x.shape[1:])}"
        )
    if codec.conditional:
        raise ValueError(
            "`codec` must be an unconditional model (a code length of x alone), "
            f"got a model with num_classes={codec.num_classes}"
        )
    _require_trained(
        codec, "codec", "train it first (e.g. keras_ar.anomaly.train_local_model)"
    )


def compressed_bits(x, codec="png", levels=256, batch_size=128):
    """L(x): the length of each example under a lossless codec, in bits.

    Args:
        x: int array `(N, ...)` in `[0, levels)`; for "png" and "webp", images
            `(N, H, W, C)` with C in (1, 3, 4) and `levels <= 256` (levels are
            stored as they are, one byte each).
        codec: "png" (Pillow, compression level 9, headers included),
            "webp" (Pillow's WebP lossless, method 6, whole file; grey
            images are stored as RGB), "lzma" (raw LZMA2 stream of the
            bytes, preset 9 extreme; any shape), a trained keras_ar model
            over the same inputs (a learned codec, e.g. `train_local_model`:
            its code length -log2 p(x), which `keras_ar.compression`
            reaches within a few bytes plus its header), or a function
            `example -> bytes`.
        levels: the number of levels of `x`.
        batch_size: examples per forward pass of a model codec.
    Returns:
        float64 `(N,)`: `8 * len(encoded bytes)` of each example, or the
        model's code length.
    """
    model_codec = _is_model(codec)
    if model_codec:
        encode = None
    elif callable(codec):
        encode = codec
    else:
        check_choice("codec", codec, CODECS)
        encode = _ENCODERS.get(codec, _encode_lzma)
    levels = check_int("levels", levels, minimum=2)
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"`x` must be a batch (N, ...), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"`x` must hold integers, got dtype {x.dtype}")
    if x.size and (x.min() < 0 or x.max() >= levels):
        raise ValueError(
            f"`x` values must be in [0, {levels}), got min {x.min()} and max {x.max()}"
        )
    if model_codec:
        _check_codec_model(codec, x, levels)
        return -codec.log_prob(x, batch_size=batch_size) / _LN2
    if codec in _ENCODERS and levels > 256:
        raise ValueError(f"codec='{codec}' needs levels <= 256, got levels={levels}")
    return np.array([8.0 * len(encode(example)) for example in x], "float64")


def input_complexity(model, x, codec="png", labels=None, batch_size=128):
    """The input-complexity score of Serra et al. (2020), bits per dimension.

    `S(x) = (-log2 p(x) - L(x)) / dims` with `L(x) = compressed_bits(x,
    codec)`: high for anomalies.

    Args:
        model: a fitted keras_ar model.
        x: int array `(N, *event_shape)`.
        codec: see `compressed_bits`.
        labels: class labels, for a class-conditional model.
        batch_size: examples per forward pass.
    Returns:
        float64 `(N,)`.
    """
    _check_model(model)
    x = model.validate_x(x)
    dims = dims_per_example(model, x)
    nll = nll_bits_per_dim(model, x, labels, batch_size)
    return nll - compressed_bits(x, codec, model.levels, batch_size) / dims


def anomaly_scores(model, x, background=None, codec="png", labels=None, batch_size=128):
    """Every anomaly score of `x` at once, higher meaning more anomalous,
    from one pass of each model over `x`.

    Args:
        model: a fitted keras_ar model.
        x: int array `(N, *event_shape)`.
        background: optional background model: adds "likelihood_ratio".
        codec: the codec of "complexity" (see `compressed_bits`), or None to
            leave that score out.
        labels: class labels, for a class-conditional model.
        batch_size: examples per forward pass.
    Returns:
        dict of float64 `(N,)` arrays in bits per dimension: "nll", and
        "likelihood_ratio" and "complexity" as asked; each equals
        `anomaly_score(model, x, method, ...)`.
    """
    _check_model(model)
    if background is not None:
        check_background(model, background)
    x = model.validate_x(x)
    dims_bits = dims_per_example(model, x) * _LN2
    log_prob = model.log_prob(
        x, labels=_labels_for(model, labels), batch_size=batch_size
    )
    scores = {"nll": -log_prob / dims_bits}
    if background is not None:
        log_prob_background = background.log_prob(
            x, labels=_labels_for(background, labels), batch_size=batch_size
        )
        scores["likelihood_ratio"] = (log_prob_background - log_prob) / dims_bits
    if codec is not None:
        bits = compressed_bits(x, codec, model.levels, batch_size)
        scores["complexity"] = scores["nll"] - bits * _LN2 / dims_bits
    return scores


def anomaly_score(
    model, x, method="nll", background=None, codec="png", labels=None, batch_size=128
):
    """One anomaly score per example, higher meaning more anomalous.

    Args:
        model: a fitted keras_ar model.
        x: int array `(N, *event_shape)`.
        method: "nll" (`nll_bits_per_dim`), "likelihood_ratio" (minus
            `likelihood_ratio`, needs `background`) or "complexity"
            (`input_complexity` with `codec`).
        background: the background model, for "likelihood_ratio".
        codec: the codec, for "complexity".
        labels: class labels, for a class-conditional model.
        batch_size: examples per forward pass.
    Returns:
        float64 `(N,)` in bits per dimension.
    """
    check_choice("method", method, METHODS)
    if method == "nll":
        return nll_bits_per_dim(model, x, labels, batch_size)
    if method == "likelihood_ratio":
        if background is None:
            raise ValueError("method='likelihood_ratio' needs a `background` model")
        return -likelihood_ratio(model, background, x, labels, batch_size)
    return input_complexity(model, x, codec, labels, batch_size)
