"""Argument checks shared by layers and models.

Each raises a ValueError or TypeError that names the argument and says what
was expected, so that bad input never surfaces as a backend stack trace.
"""

import math

import numpy as np
from keras import ops


def check_int(name, value, minimum=None, maximum=None):
    """Returns `value` as an int; raises unless it is an int in range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}")
    return int(value)


def check_positive_float(name, value, allow_zero=False):
    """Returns `value` as a finite float > 0 (or >= 0)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be a finite number {bound}, got {value}")
    return value


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}, got {value!r}")
    return value


def check_kernel_size(name, value, rank):
    """Normalizes an int or tuple kernel size to a tuple of `rank` ints >= 1."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * rank
    if (
        not isinstance(value, (tuple, list))
        or len(value) != rank
        or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in value)
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a tuple of {rank} positive "
            f"ints, got {value!r}"
        )
    return tuple(int(v) for v in value)


def check_input_rank(layer_name, shape, rank, what):
    """Raises unless `shape` (with batch axis) has the given rank."""
    if len(shape) != rank:
        raise ValueError(
            f"{layer_name} expects {what} (rank {rank}), got an input of "
            f"shape {tuple(shape)}"
        )


def to_numpy(x):
    """NumPy view of an array, list or backend tensor."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, int, float, np.number)):
        return np.asarray(x)
    return ops.convert_to_numpy(x)


def check_rate(name, value):
    """Returns `value` as a float in [0, 1) (a dropout rate); bools are not
    numbers here."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value < 1
    ):
        raise ValueError(f"`{name}` must be in [0, 1), got {value!r}")
    return float(value)
