"""MADE masks (Germain et al., 2015, "MADE: Masked Autoencoder for
Distribution Estimation").

Every unit gets a degree. Input dimension d gets `m^0(d)`, its position
(1..D) in the autoregressive ordering. Unit k of hidden layer l gets
`m^l(k)` in `[min_k' m^{l-1}(k'), D - 1]`: it may only see inputs of degree
<= m^l(k). The masks then follow from the degrees (paper eqs. 12-13):

- hidden layer l:  M^{W^l}[k, k'] = 1[m^l(k') >= m^{l-1}(k)]
- output layer:    M^V[k, d]      = 1[m^0(d) > m^L(k)]   (strict)
- direct input -> output connection (paper section 4):
                   A[d', d]       = 1[m^0(d) > m^0(d')]   (strict)

The strict inequality at the output is what makes output d depend on the
inputs strictly earlier in the ordering only. All masks here are laid out
like a Keras `Dense` kernel: `(inputs, outputs)` (the paper writes them
transposed, `(outputs, inputs)`).

Several features per input dimension (a one-hot input, `inputs_per_dim`)
all take that dimension's degree; several logits per output dimension
(a categorical over more than two levels, `outputs_per_dim`) repeat that
dimension's mask column. Features of dimension d are laid out
contiguously, `d * per_dim + j`, which is what reshaping `(B, D, per_dim)`
to `(B, D * per_dim)` gives.
"""

import warnings
from typing import NamedTuple

import numpy as np

from keras_ar.validation import check_choice, check_int


class MadeMasks(NamedTuple):
    """The degrees and masks of one MADE mask set.

    Attributes:
        ordering: int array `(D,)`: `ordering[i]` is the dimension at step i.
        degrees: list `[m^0, m^1, ..., m^L]` of int arrays (`m^0` per input
            dimension, `m^l` per hidden unit).
        hidden: list of float32 masks `M^{W^l}`, shape `(in, units_l)`.
        output: float32 `M^V`, shape `(units_L, D * outputs_per_dim)`.
        direct: float32 `A`, shape `(D * inputs_per_dim, D * outputs_per_dim)`,
            or None without a direct connection.
    """

    ordering: np.ndarray
    degrees: list
    hidden: list
    output: np.ndarray
    direct: object


def resolve_ordering(input_dim, ordering="natural", seed=None):
    """The ordering as a permutation: `ordering[i]` is the dimension at step i.

    Args:
        input_dim: D, the number of dimensions (>= 1).
        ordering: "natural" (0, 1, ..., D-1), "random" (a permutation drawn
            from `seed`) or a permutation of `0..D-1` (list or array).
        seed: int seed (or NumPy Generator) for "random".
    Returns:
        int64 array `(D,)`.
    """
    check_int("input_dim", input_dim, minimum=1)
    if isinstance(ordering, str):
        check_choice("ordering", ordering, ("natural", "random"))
        if ordering == "natural":
            return np.arange(input_dim)
        return _rng(seed).permutation(input_dim)
    try:
        perm = np.asarray(ordering)
    except Exception:  # noqa: BLE001 - any unconvertible object is a bad ordering
        perm = None
    if (
        perm is None
        or perm.ndim != 1
        or perm.size != input_dim
        or not (np.issubdtype(perm.dtype, np.integer) or perm.size == 0)
        or not np.array_equal(np.sort(perm), np.arange(input_dim))
    ):
        raise ValueError(
            "`ordering` must be 'natural', 'random' or a permutation of "
            f"0..{input_dim - 1} (input_dim={input_dim}) giving the dimension "
            f"generated at each step, got {ordering!r}"
        )
    return perm.astype("int64")


def input_degrees(input_dim, ordering="natural", seed=None):
    """m^0: the degree (1..D) of each input dimension.

    `m^0(d) = i + 1` where `ordering[i] = d`: a dimension's degree is its
    position in the ordering, so output d may read dimensions of lower degree.

    Args:
        input_dim: D.
        ordering: as in `resolve_ordering`.
        seed: seed for `ordering="random"`.
    Returns:
        int64 array `(D,)` with values in `1..D`.
    """
    perm = resolve_ordering(input_dim, ordering, seed)
    degrees = np.empty(input_dim, "int64")
    degrees[perm] = np.arange(1, input_dim + 1)
    return degrees


def hidden_degrees(units, previous_degrees, input_dim, mode="random", seed=None):
    """m^l: the degree of each unit of a hidden layer.

    Degrees lie in `[min(m^{l-1}), D - 1]`: below the previous layer's
    minimum a unit would have no inputs at all, and a unit of degree D
    could feed no output (output d reads degrees < m^0(d) <= D).

    Args:
        units: number of hidden units (>= 1).
        previous_degrees: `m^{l-1}` (the input degrees for the first layer).
        input_dim: D (>= 2; with one dimension nothing is conditioned on).
        mode: "random" draws each degree uniformly from the range (the
            paper; a new `seed` re-samples the connectivity), "equal" spaces
            the degrees evenly over the range (deterministic; with
            `units >= D - 1` every degree occurs).
        seed: int seed (or NumPy Generator) for "random".
    Returns:
        int64 array `(units,)`.
    """
    check_int("units", units, minimum=1)
    check_int("input_dim", input_dim, minimum=2)
    check_choice("hidden_degrees", mode, ("random", "equal"))
    low = int(np.min(previous_degrees))
    high = input_dim - 1
    if low > high:
        raise ValueError(
            f"`previous_degrees` must have a minimum <= D - 1 = {high}, got {low}"
        )
    if mode == "random":
        return _rng(seed).integers(low, high + 1, size=units).astype("int64")
    span = high - low + 1
    return (low + (np.arange(units) * span) // units).astype("int64")


def hidden_mask(previous_degrees, degrees, inputs_per_dim=1):
    """M^W = 1[m^l(k') >= m^{l-1}(k)], shape `(in, units)`.

    Args:
        previous_degrees: `m^{l-1}` (per input dimension for the first layer).
        degrees: `m^l`, one per unit of this layer.
        inputs_per_dim: features per entry of `previous_degrees` (e.g.
            `levels` for a one-hot first layer); each repeats its degree.
    """
    check_int("inputs_per_dim", inputs_per_dim, minimum=1)
    previous = np.repeat(np.asarray(previous_degrees), inputs_per_dim)
    return (np.asarray(degrees)[None, :] >= previous[:, None]).astype("float32")


def output_mask(last_degrees, input_degrees, outputs_per_dim=1):
    """M^V = 1[m^0(d) > m^L(k)], shape `(units_L, D * outputs_per_dim)`.

    Args:
        last_degrees: `m^L`, the degrees of the last hidden layer.
        input_degrees: `m^0`.
        outputs_per_dim: logits per dimension; each repeats its column.
    """
    check_int("outputs_per_dim", outputs_per_dim, minimum=1)
    out = np.repeat(np.asarray(input_degrees), outputs_per_dim)
    return (out[None, :] > np.asarray(last_degrees)[:, None]).astype("float32")


def direct_mask(input_degrees, inputs_per_dim=1, outputs_per_dim=1):
    """A = 1[m^0(d) > m^0(d')], the direct input -> output connection.

    Strictly lower triangular once rows and columns are sorted by the
    ordering: output d reads every input earlier in the ordering.
    Shape `(D * inputs_per_dim, D * outputs_per_dim)`.
    """
    check_int("inputs_per_dim", inputs_per_dim, minimum=1)
    check_int("outputs_per_dim", outputs_per_dim, minimum=1)
    degrees = np.asarray(input_degrees)
    rows = np.repeat(degrees, inputs_per_dim)
    cols = np.repeat(degrees, outputs_per_dim)
    return (cols[None, :] > rows[:, None]).astype("float32")


def made_masks(
    input_dim,
    hidden_units,
    ordering="natural",
    hidden_degrees_mode="random",
    seed=None,
    inputs_per_dim=1,
    outputs_per_dim=1,
    direct_connection=False,
    warn_disconnected=True,
):
    """Degrees and masks of a whole MADE (one mask set).

    Args:
        input_dim: D (>= 2).
        hidden_units: sizes of the hidden layers (at least one).
        ordering: "natural", "random" or a permutation of `0..D-1`.
        hidden_degrees_mode: "random" (the paper) or "equal" (see
            `hidden_degrees`).
        seed: int seed (or NumPy Generator): draws the random ordering, then
            the hidden degrees. Another seed re-samples the connectivity.
        inputs_per_dim: input features per dimension (`levels` for one-hot).
        outputs_per_dim: logits per dimension.
        direct_connection: also return the direct input -> output mask.
        warn_disconnected: warn (UserWarning) when an output other than the
            first in the ordering has no path from any input. With
            `hidden_degrees_mode="random"` that happens by chance when a
            layer draws no low degree (likely when layers are small, e.g.
            fewer than D - 1 units); the model is still a valid
            distribution, but those conditionals ignore the past. "equal"
            always keeps the lowest degree, so every output stays connected
            (with fewer than D - 1 units some outputs see only part of
            their past). A direct connection always connects every output.
    Returns:
        `MadeMasks`.

    Example:

    >>> masks = made_masks(3, [4], hidden_degrees_mode="equal")
    >>> masks.degrees[0]
    array([1, 2, 3])
    >>> masks.output.shape
    (4, 3)
    """
    check_int("input_dim", input_dim, minimum=2)
    if isinstance(hidden_units, (int, np.integer)) and not isinstance(
        hidden_units, bool
    ):
        hidden_units = [hidden_units]
    if not isinstance(hidden_units, (list, tuple)) or not hidden_units:
        raise ValueError(
            "`hidden_units` must be a non-empty list of layer sizes, got "
            f"{hidden_units!r}"
        )
    for units in hidden_units:
        check_int("hidden_units", units, minimum=1)
    rng = _rng(seed)
    perm = resolve_ordering(input_dim, ordering, rng)
    m0 = input_degrees(input_dim, perm)
    degrees = [m0]
    hidden = []
    for i, units in enumerate(hidden_units):
        m = hidden_degrees(units, degrees[-1], input_dim, hidden_degrees_mode, rng)
        hidden.append(hidden_mask(degrees[-1], m, inputs_per_dim if i == 0 else 1))
        degrees.append(m)
    output = output_mask(degrees[-1], m0, outputs_per_dim)
    direct = (
        direct_mask(m0, inputs_per_dim, outputs_per_dim) if direct_connection else None
    )
    masks = MadeMasks(perm, degrees, hidden, output, direct)
    if warn_disconnected:
        missing = disconnected_outputs(masks, inputs_per_dim, outputs_per_dim)
        if missing.size:
            warnings.warn(
                f"MADE outputs for dimensions {missing.tolist()} have no path "
                "from any input (some hidden degree is missing): their "
                "conditionals ignore the earlier dimensions. Use more hidden "
                "units (>= input_dim - 1 per layer), hidden_degrees='equal', "
                "another seed, or a direct connection.",
                UserWarning,
                stacklevel=2,
            )
    return masks


def connectivity(masks, inputs_per_dim=1, outputs_per_dim=1):
    """Boolean `(D, D)`: `[d', d]` is True where some path of the masks
    (through the hidden layers, or the direct connection) joins input
    dimension d' to output dimension d."""
    path = masks.hidden[0]
    for m in masks.hidden[1:]:
        path = (path @ m > 0).astype("float32")
    path = path @ masks.output > 0
    if masks.direct is not None:
        path = path | (masks.direct > 0)
    d = len(masks.ordering)
    path = path.reshape(d, inputs_per_dim, d, outputs_per_dim)
    return path.any(axis=(1, 3))


def disconnected_outputs(masks, inputs_per_dim=1, outputs_per_dim=1):
    """Dimensions (other than the first in the ordering) whose output no
    input reaches."""
    reached = connectivity(masks, inputs_per_dim, outputs_per_dim).any(axis=0)
    first = masks.ordering[0]
    return np.array(
        [d for d in range(len(reached)) if not reached[d] and d != first], "int64"
    )


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
