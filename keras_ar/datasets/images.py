"""Image preprocessing for the image models: resize, quantize, pad.

Pure NumPy, so the data does not depend on which Keras backend is active.
The steps follow "Generative Deep Learning" (2nd ed., ch. 5): resize to
16x16, quantize to a few intensity levels, optionally pad.
"""

import numpy as np

from keras_ar.validation import check_choice, check_int


def _check_images(images, name="images"):
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"`{name}` must have shape (N, H, W) or (N, H, W, C), got shape "
            f"{images.shape}"
        )
    if images.size and not np.issubdtype(images.dtype, np.number):
        raise ValueError(f"`{name}` must be numeric, got dtype {images.dtype}")
    return images


def _check_size(name, size):
    """Normalizes an int or (height, width) pair of positive ints."""
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(
                f"`{name}` must be an int or a (height, width) pair, got {size!r}"
            )
        return tuple(check_int(name, s, minimum=1) for s in size)
    size = check_int(name, size, minimum=1)
    return (size, size)


def quantize(images, levels):
    """Maps 0..255 intensities to `levels` equal-width bins 0..levels-1.

    Computes `floor(images / (256 / levels))`, the book's
    `(x / (256 / levels)).astype(int)`, which also accepts the non-integer
    values `resize_images` returns.

    Args:
        images: array of values in [0, 255] (uint8 or float).
        levels: number of intensity levels, in [2, 256].

    Returns:
        An int32 array of the same shape with values in [0, levels).

    Example:

    >>> quantize(np.array([0, 63, 64, 255], "uint8"), levels=4)
    array([0, 0, 1, 3], dtype=int32)
    """
    levels = check_int("levels", levels, minimum=2, maximum=256)
    images = np.asarray(images)
    if images.size and not np.issubdtype(images.dtype, np.number):
        raise ValueError(f"`images` must be numeric, got dtype {images.dtype}")
    if images.size and (images.min() < 0 or images.max() > 255):
        raise ValueError(
            "`images` must hold values in [0, 255], got range "
            f"[{images.min()}, {images.max()}]"
        )
    binned = np.floor(images.astype(np.float64) / (256 / levels))
    # Guard against a float just under 256 landing in a bin of its own.
    return np.minimum(binned, levels - 1).astype(np.int32)


def _bilinear_weights(in_size, out_size):
    """(out_size, in_size) matrix of 1-D bilinear weights, half-pixel centres.

    Same sampling as `tf.image.resize(..., "bilinear")` without antialiasing
    (the book's call): output pixel i samples input coordinate
    (i + 0.5) * in/out - 0.5, clamped to the image.
    """
    src = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    lower = np.floor(src)
    frac = src - lower
    lower = lower.astype(np.int64)
    weights = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(weights, (rows, np.clip(lower, 0, in_size - 1)), 1 - frac)
    np.add.at(weights, (rows, np.clip(lower + 1, 0, in_size - 1)), frac)
    return weights


def _area_weights(in_size, out_size):
    """(out_size, in_size) matrix averaging each output pixel's footprint.

    Output pixel i covers input interval [i, i + 1) * in/out; each input pixel
    counts by its overlap with that interval.
    """
    scale = in_size / out_size
    starts = np.arange(out_size)[:, None] * scale
    ends = starts + scale
    pixel = np.arange(in_size)[None, :]
    overlap = np.clip(np.minimum(ends, pixel + 1) - np.maximum(starts, pixel), 0, None)
    return overlap / scale


def resize_images(images, size, interpolation="bilinear", dtype="float32"):
    """Resizes a batch of images, identically on every backend.

    Pure NumPy (separable weight matrices), so the data does not depend on
    which Keras backend is active. `"bilinear"` matches the book's
    `tf.image.resize(x, (16, 16))` (no antialiasing); `"area"` averages each
    output pixel's footprint, which keeps thin strokes when shrinking.

    Args:
        images: array of shape (N, H, W) or (N, H, W, C), values 0..255.
        size: output size, an int or (height, width).
        interpolation: `"bilinear"` or `"area"`.
        dtype: `"float32"` (unrounded values in [0, 255], what the book
            quantizes) or `"uint8"` (rounded).

    Returns:
        Array of shape (N, height, width[, C]) with values in [0, 255].

    Example:

    >>> x = np.zeros((2, 28, 28), "uint8")
    >>> resize_images(x, 16).shape
    (2, 16, 16)
    """
    images = _check_images(images)
    out_h, out_w = _check_size("size", size)
    check_choice("interpolation", interpolation, ("bilinear", "area"))
    check_choice("dtype", dtype, ("float32", "uint8"))
    make = _bilinear_weights if interpolation == "bilinear" else _area_weights
    in_h, in_w = images.shape[1:3]
    if in_h == 0 or in_w == 0:
        raise ValueError(f"`images` has an empty spatial shape {images.shape}")
    w_h, w_w = make(in_h, out_h), make(in_w, out_w)
    x = images.astype(np.float64)
    if x.ndim == 4:  # Channels to the front so the spatial axes are last.
        x = np.moveaxis(x, -1, 1)
    # Separable resize as two batched matrix products (BLAS, so fast enough
    # for the 70k images of Fashion-MNIST in a second or so).
    out = np.matmul(np.matmul(w_h, x), w_w.T)
    if images.ndim == 4:
        out = np.moveaxis(out, 1, -1)
    # Weighted means stay within [0, 255] up to rounding; clip the rounding.
    out = np.clip(out, 0, 255)
    if dtype == "uint8":
        return np.round(out).astype(np.uint8)
    return out.astype(np.float32)


def pad_images(images, size=32, value=0):
    """Pads images with a constant border, centred, to `size` x `size`.

    When the padding is odd the extra row/column goes at the bottom/right.

    Args:
        images: array of shape (N, H, W) or (N, H, W, C).
        size: output size, an int or (height, width), at least the input's.
        value: the fill value.

    Returns:
        Array of shape (N, height, width[, C]) and the input's dtype.

    Example:

    >>> pad_images(np.ones((1, 28, 28), "uint8"), 32).shape
    (1, 32, 32)
    """
    images = _check_images(images)
    out_h, out_w = _check_size("size", size)
    in_h, in_w = images.shape[1:3]
    if out_h < in_h or out_w < in_w:
        raise ValueError(
            f"`size` ({out_h}, {out_w}) is smaller than the images "
            f"({in_h}, {in_w}); pad_images only pads"
        )
    top, left = (out_h - in_h) // 2, (out_w - in_w) // 2
    pads = [(0, 0), (top, out_h - in_h - top), (left, out_w - in_w - left)]
    pads += [(0, 0)] * (images.ndim - 3)
    return np.pad(images, pads, constant_values=value)
