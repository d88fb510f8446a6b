"""MADE degrees and masks, and the MaskedDense layer."""

import os

import keras
import numpy as np
import pytest

from keras_ar.layers.masked_dense import MaskedDense
from keras_ar.masks import made
from tests.helpers import dependency_mask, run_layer_test, to_numpy

# -- degrees ----------------------------------------------------------------


def test_input_degrees_follow_the_ordering():
    np.testing.assert_array_equal(made.input_degrees(4), [1, 2, 3, 4])
    # ordering[i] is the dimension at step i, so m^0(ordering[i]) = i + 1.
    np.testing.assert_array_equal(made.input_degrees(4, [2, 0, 3, 1]), [2, 4, 1, 3])
    perm = made.resolve_ordering(6, "random", seed=3)
    assert sorted(perm.tolist()) == list(range(6))
    np.testing.assert_array_equal(perm, made.resolve_ordering(6, "random", seed=3))
    assert any(
        not np.array_equal(perm, made.resolve_ordering(6, "random", seed=s))
        for s in range(4, 8)
    )
    np.testing.assert_array_equal(made.input_degrees(6, perm)[perm], np.arange(1, 7))


@pytest.mark.parametrize("mode", ["random", "equal"])
def test_hidden_degrees_range(mode):
    d = 7
    m0 = made.input_degrees(d)
    m1 = made.hidden_degrees(50, m0, d, mode=mode, seed=0)
    assert m1.min() >= 1 and m1.max() <= d - 1
    # A layer above one whose minimum degree is 3 stays >= 3.
    m2 = made.hidden_degrees(50, np.array([3, 5, 6]), d, mode=mode, seed=1)
    assert m2.min() >= 3 and m2.max() <= d - 1
    if mode == "equal":
        # Deterministic, and with units >= D - 1 every degree occurs.
        np.testing.assert_array_equal(m1, made.hidden_degrees(50, m0, d, mode=mode))
        assert set(made.hidden_degrees(d - 1, m0, d, mode=mode)) == set(range(1, d))
    else:
        # Another seed re-samples the connectivity.
        assert not np.array_equal(m1, made.hidden_degrees(50, m0, d, mode=mode, seed=2))


def test_masks_match_the_paper_formulas():
    m0 = np.array([2, 1, 3])
    m1 = np.array([1, 2, 2, 1])
    w = made.hidden_mask(m0, m1)
    v = made.output_mask(m1, m0)
    a = made.direct_mask(m0)
    for k in range(3):
        for j in range(4):
            assert w[k, j] == float(m1[j] >= m0[k])
    for j in range(4):
        for d in range(3):
            assert v[j, d] == float(m0[d] > m1[j])
    for i in range(3):
        for d in range(3):
            assert a[i, d] == float(m0[d] > m0[i])
    # Several features / logits per dimension repeat its row / column.
    w2 = made.hidden_mask(m0, m1, inputs_per_dim=2)
    np.testing.assert_array_equal(w2[0::2], w)
    np.testing.assert_array_equal(w2[1::2], w)
    v3 = made.output_mask(m1, m0, outputs_per_dim=3)
    for j in range(3):
        np.testing.assert_array_equal(v3[:, j::3], v)
    # Sorted by the ordering, the direct mask is strictly lower triangular.
    order = np.argsort(m0)
    np.testing.assert_array_equal(a[np.ix_(order, order)], np.triu(np.ones((3, 3)), 1))


# -- numerical autoregressive property ---------------------------------------

CASES = [
    # (ordering, seed, inputs_per_dim, outputs_per_dim, direct, mode)
    ("natural", 4, 1, 1, False, "random"),
    ("natural", 1, 1, 1, True, "random"),
    ("random", 2, 1, 1, False, "random"),
    ("random", 5, 2, 3, True, "random"),
    ("random", 7, 3, 3, False, "equal"),
    ([2, 0, 3, 1], 3, 1, 2, False, "random"),
    ([2, 0, 3, 1], 4, 2, 1, True, "equal"),
    ([3, 2, 1, 0], 8, 1, 3, False, "random"),
]


def _masked_mlp(masks, activation="tanh"):
    """A random-weight MLP of MaskedDense layers with these masks."""
    init = keras.initializers.RandomNormal(stddev=1.0, seed=0)
    layers = [
        MaskedDense(
            m.shape[1],
            mask=m,
            activation=activation,
            kernel_initializer=init,
            bias_initializer=init,
        )
        for m in masks.hidden
    ]
    out = MaskedDense(
        masks.output.shape[1],
        mask=masks.output,
        kernel_initializer=init,
        bias_initializer=init,
    )
    direct = (
        None
        if masks.direct is None
        else MaskedDense(
            masks.direct.shape[1],
            mask=masks.direct,
            use_bias=False,
            kernel_initializer=init,
        )
    )

    def fn(x):
        x = x.astype("float32")
        h = x
        for layer in layers:
            h = layer(h)
        y = out(h)
        if direct is not None:
            y = y + direct(x)
        return to_numpy(y)

    return fn


# Seeds whose random degrees leave every output connected (made_masks warns
# otherwise; the warning is an error here).
@pytest.mark.filterwarnings("error:MADE outputs:UserWarning")
@pytest.mark.parametrize("ordering,seed,q,p,direct,mode", CASES)
def test_outputs_depend_only_on_earlier_inputs(ordering, seed, q, p, direct, mode):
    d = 4
    masks = made.made_masks(
        d,
        [9, 7],
        ordering=ordering,
        hidden_degrees_mode=mode,
        seed=seed,
        inputs_per_dim=q,
        outputs_per_dim=p,
        direct_connection=direct,
    )
    fn = _masked_mlp(masks)
    x = np.random.default_rng(seed).normal(size=(1, d * q))
    dep = dependency_mask(fn, x).reshape(d, q, d, p).any(axis=(1, 3))
    m0 = masks.degrees[0]
    allowed = m0[:, None] < m0[None, :]
    # Autoregressive: output d moves only with inputs earlier in the ordering.
    assert not np.any(dep & ~allowed), np.argwhere(dep & ~allowed)
    # Connectivity: every output but the first in the ordering reads some
    # input, and exactly the inputs that the masks join to it.
    first = masks.ordering[0]
    assert not dep[:, first].any()
    assert all(dep[:, o].any() for o in range(d) if o != first)
    np.testing.assert_array_equal(dep, made.connectivity(masks, q, p))
    if direct:
        # The direct connection alone joins each output to its whole past.
        np.testing.assert_array_equal(dep, allowed)


def test_ordering_is_respected_per_seed():
    # Different seeds give different random orderings, each autoregressive.
    orders = set()
    for seed in range(3):
        masks = made.made_masks(5, [12], ordering="random", seed=seed)
        orders.add(tuple(masks.ordering))
        fn = _masked_mlp(masks)
        dep = dependency_mask(fn, np.ones((1, 5)))
        m0 = masks.degrees[0]
        assert not np.any(dep & ~(m0[:, None] < m0[None, :]))
    assert len(orders) > 1


# -- bad arguments ------------------------------------------------------------


@pytest.mark.parametrize(
    "ordering",
    [[0, 0, 1], [0, 1], [0, 1, 3], [0.0, 1.0, 2.0], [[0, 1, 2]], "backwards"],
)
def test_bad_ordering(ordering):
    with pytest.raises(ValueError, match="ordering"):
        made.made_masks(3, [4], ordering=ordering)


def test_bad_hidden_units_and_input_dim():
    with pytest.raises(ValueError, match="hidden_units"):
        made.made_masks(3, [])
    with pytest.raises(ValueError, match="hidden_units"):
        made.made_masks(3, [4, 0])
    with pytest.raises(ValueError, match="input_dim"):
        made.made_masks(1, [4])
    with pytest.raises(ValueError, match="hidden_degrees"):
        made.made_masks(3, [4], hidden_degrees_mode="sorted")


def test_disconnected_outputs_warn():
    # Three random degrees in 1..5 for six dimensions: seed 0 draws no
    # degree 1 or 2, so outputs of dimensions 1 and 2 get no hidden path.
    with pytest.warns(UserWarning, match=r"dimensions \[1, 2\] have no path"):
        masks = made.made_masks(6, [3], seed=0)
    assert not made.connectivity(masks)[:, 1:3].any()
    # A direct connection, or "equal" degrees, keeps every output connected.
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="MADE outputs")
        made.made_masks(6, [3], seed=0, direct_connection=True)
        made.made_masks(6, [2], hidden_degrees_mode="equal")


# -- MaskedDense ----------------------------------------------------------------


def test_masked_dense_layer(tmp_path):
    mask = (np.random.default_rng(0).random((5, 4)) > 0.5).astype("float32")
    x = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    out = run_layer_test(
        MaskedDense,
        {"units": 4, "mask": mask, "activation": "relu"},
        x,
        expected_output_shape=(3, 4),
        tmp_path=tmp_path,
    )
    assert out.shape == (3, 4)


def test_masked_dense_mask_stack_and_plain(tmp_path):
    masks = np.stack([np.tril(np.ones((3, 3)), -1), np.triu(np.ones((3, 3)), 1)])
    x = np.random.default_rng(1).normal(size=(2, 3)).astype("float32")
    run_layer_test(
        MaskedDense,
        {"units": 3, "mask": masks},
        x,
        expected_output_shape=(2, 3),
        tmp_path=tmp_path,
        call_kwargs={"mask_index": 1},
    )
    run_layer_test(MaskedDense, {"units": 2}, x, expected_output_shape=(2, 2))
    # The index picks the mask: mask[i, j] = 1 lets output j read input i,
    # so output 2 reads nothing under the first (tril) mask, output 0 nothing
    # under the second (triu) one; the others do read something.
    layer = MaskedDense(3, mask=masks, bias_initializer="ones")
    y0 = to_numpy(layer(x, mask_index=0))
    np.testing.assert_allclose(y0[:, 2], 1.0)
    assert np.all(y0[:, 0] != 1.0)
    y1 = to_numpy(layer(x, mask_index=1))
    np.testing.assert_allclose(y1[:, 0], 1.0)
    assert np.all(y1[:, 2] != 1.0)


def test_masked_dense_applies_mask_and_keeps_kernel():
    mask = np.tril(np.ones((4, 4)), -1)
    layer = MaskedDense(4, mask=mask, kernel_initializer="ones")
    x = np.random.default_rng(0).normal(size=(1, 4))
    dep = dependency_mask(lambda v: to_numpy(layer(v.astype("float32"))), x)
    np.testing.assert_array_equal(dep, mask > 0)
    # The kernel itself is not overwritten (masked entries keep their value)
    # and masked entries get no gradient from training.
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(x, np.ones((1, 4)), epochs=2, verbose=0)
    kernel = to_numpy(layer.kernel)
    np.testing.assert_array_equal(kernel[mask == 0], 1.0)
    assert np.any(kernel[mask == 1] != 1.0)
    np.testing.assert_array_equal(to_numpy(layer.mask), mask)
    assert all(w is not layer.mask for w in layer.trainable_weights)
    assert any(w is layer.mask for w in layer.non_trainable_weights)


def test_masked_dense_mask_survives_save_load(tmp_path):
    mask = (np.random.default_rng(3).random((6, 5)) > 0.4).astype("float32")
    inputs = keras.Input((6,))
    model = keras.Model(inputs, MaskedDense(5, mask=mask, name="md")(inputs))
    path = os.path.join(str(tmp_path), "md.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.get_layer("md")
    np.testing.assert_array_equal(to_numpy(layer.mask), mask)
    np.testing.assert_array_equal(np.asarray(layer.get_config()["mask"]), mask)
    x = np.random.default_rng(4).normal(size=(2, 6)).astype("float32")
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), atol=1e-6)
    dep = dependency_mask(lambda v: to_numpy(layer(v.astype("float32"))), x[:1])
    np.testing.assert_array_equal(dep, mask > 0)


def test_masked_dense_bad_arguments():
    with pytest.raises(ValueError, match="mask"):
        MaskedDense(3, mask=np.ones((4, 2)))
    with pytest.raises(ValueError, match="0s and 1s"):
        MaskedDense(3, mask=np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match="mask"):
        MaskedDense(3, mask=np.ones(3))
    with pytest.raises(TypeError, match="units"):
        MaskedDense(2.5)
    layer = MaskedDense(3, mask=np.ones((4, 3)))
    with pytest.raises(ValueError, match="input features"):
        layer(np.ones((2, 5), "float32"))
