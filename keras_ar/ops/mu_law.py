"""mu-law companding and quantization of audio (ITU-T G.711; WaveNet, Sec. 2.2).

WaveNet models raw audio as a categorical over `levels` values. Quantizing
linearly wastes most levels on loud samples; mu-law companding

    f(x) = sign(x) * ln(1 + mu |x|) / ln(1 + mu),   mu = levels - 1

spends them evenly on a logarithmic scale, which suits speech and music.

Both functions accept NumPy arrays (and Python numbers or lists), returning
NumPy, or backend tensors, returning backend tensors; the maths is
`keras.ops`, so they also run inside a compiled model or data pipeline.
"""

import math

import numpy as np
from keras import ops

from keras_ar.validation import check_int


def _is_host_value(x):
    return isinstance(x, (np.ndarray, np.number, list, tuple, int, float))


def mu_law_encode(audio, levels=256):
    """Quantizes audio in `[-1, 1]` to ints in `[0, levels)` by mu-law.

    Values outside `[-1, 1]` are clipped first.

    Args:
        audio: float array or tensor, any shape, nominally in `[-1, 1]`.
        levels: number of quantization levels (>= 2); `mu = levels - 1`.
    Returns:
        int32 array of the same shape (NumPy for NumPy input, a backend tensor
        otherwise), with `-1 -> 0`, `1 -> levels - 1`.

    Example:
    ```python
    import numpy as np
    from keras_ar.ops.mu_law import mu_law_decode, mu_law_encode

    audio = np.sin(np.linspace(0, 20, 1000)).astype("float32")
    q = mu_law_encode(audio, levels=256)      # ints in [0, 256)
    restored = mu_law_decode(q, levels=256)   # floats close to `audio`
    ```
    """
    levels = check_int("levels", levels, minimum=2)
    host = _is_host_value(audio)
    mu = float(levels - 1)
    x = ops.clip(ops.cast(ops.convert_to_tensor(audio), "float32"), -1.0, 1.0)
    companded = ops.sign(x) * ops.log1p(mu * ops.abs(x)) / math.log1p(mu)
    # Map [-1, 1] onto [0, mu] and round to the nearest level.
    q = ops.floor((companded + 1.0) * 0.5 * mu + 0.5)
    q = ops.cast(ops.clip(q, 0.0, mu), "int32")
    return ops.convert_to_numpy(q) if host else q


def mu_law_decode(quantized, levels=256):
    """Inverts `mu_law_encode`: ints in `[0, levels)` to floats in `[-1, 1]`.

    Args:
        quantized: int array or tensor with values in `[0, levels)`.
        levels: the `levels` used to encode (>= 2).
    Returns:
        float32 array of the same shape (NumPy for NumPy input, a backend
        tensor otherwise); `encode(decode(q)) == q` for every level `q`.

    Example:
    ```python
    import numpy as np
    from keras_ar.ops.mu_law import mu_law_decode

    mu_law_decode(np.array([0, 128, 255]), levels=256)  # ~[-1, 0.0039, 1]
    ```
    """
    levels = check_int("levels", levels, minimum=2)
    host = _is_host_value(quantized)
    mu = float(levels - 1)
    q = ops.cast(ops.convert_to_tensor(quantized), "float32")
    companded = 2.0 * q / mu - 1.0
    # f^-1(y) = sign(y) * ((1 + mu)^|y| - 1) / mu
    audio = ops.sign(companded) * ops.expm1(ops.abs(companded) * math.log1p(mu)) / mu
    return ops.convert_to_numpy(audio) if host else audio
