"""The MADE model: normalization, causality, sampling, training, saving."""

import itertools
import os

import keras
import numpy as np
import pytest
from scipy import stats

from keras_ar.models.made import MADE
from tests.helpers import dependency_mask, take_turns, to_numpy


def _sharpen(model, seed=0, scale=2.0):
    """Re-draws every trainable weight with a large scale, so that the
    distribution is far from uniform (the masks are not trainable and stay)."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(scale=scale, size=tuple(w.shape)).astype("float32"))


def _all_inputs(input_dim, levels):
    return np.array(list(itertools.product(range(levels), repeat=input_dim)), "int32")


CONFIGS = {
    "binary": dict(input_dim=4, hidden_units=(8,)),
    "binary_random_order_no_direct": dict(
        input_dim=4, hidden_units=(8, 8), ordering="random", direct_connection=False
    ),
    "binary_ensemble": dict(input_dim=4, hidden_units=(8,), num_masks=3),
    "levels3_one_hot": dict(input_dim=3, levels=3, hidden_units=(8,)),
    "levels3_custom_order_scaled": dict(
        input_dim=3,
        levels=3,
        hidden_units=(6, 6),
        ordering=[2, 0, 1],
        input_encoding="scaled",
        hidden_degrees="equal",
    ),  # fmt: skip
    "levels3_ensemble_random": dict(
        input_dim=3, levels=3, hidden_units=(8,), ordering="random", num_masks=2
    ),
}


# (The plain "binary" model's sum is checked in the sampling test below.)
@pytest.mark.parametrize(
    *take_turns(
        "name",
        [
            "binary_random_order_no_direct",
            "binary_ensemble",
            "levels3_custom_order_scaled",
            "levels3_ensemble_random",
        ],
    )
)
def test_probabilities_sum_to_one(name):
    model = MADE(seed=3, **CONFIGS[name])
    _sharpen(model)
    xs = _all_inputs(model.input_dim, model.levels)
    probs = np.exp(model.log_prob(xs))
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-4)
    # Far from uniform, so that the sum is a real check.
    assert probs.max() > 4.0 / len(xs)


def test_conditional_probabilities_sum_to_one_per_label():
    model = MADE(input_dim=3, levels=3, hidden_units=(8,), num_classes=2, seed=0)
    _sharpen(model)
    xs = _all_inputs(3, 3)
    per_label = [np.exp(model.log_prob(xs, labels=np.full(len(xs), c))) for c in (0, 1)]
    for probs in per_label:
        np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-4)
    assert np.abs(per_label[0] - per_label[1]).max() > 1e-3


@pytest.mark.parametrize(
    "name", ["binary_random_order_no_direct", "levels3_ensemble_random"]
)
@pytest.mark.filterwarnings("error:MADE outputs:UserWarning")
def test_conditionals_depend_only_on_earlier_dimensions(name):
    # tanh rather than relu: no unit is dead at the probe point, so every
    # path the masks allow shows up as a dependency.
    model = MADE(seed=5, activation="tanh", **CONFIGS[name])
    _sharpen(model)
    d, levels = model.input_dim, model.levels

    def fn(x):
        logits = to_numpy(model(x.astype("int32")))
        return logits.reshape(1, -1)

    x = np.zeros((1, d))
    dep = dependency_mask(fn, x).reshape(d, d, levels).any(axis=-1)
    order = list(model.ordering)
    before = np.array(
        [[order.index(a) < order.index(b) for b in range(d)] for a in range(d)]
    )
    assert not np.any(dep & ~before)
    assert all(dep[:, o].any() for o in order[1:])


@pytest.mark.parametrize("name", ["binary", "levels3_ensemble_random"])
def test_samples_match_log_prob(name):
    model = MADE(seed=1, **CONFIGS[name])
    _sharpen(model, scale=1.0)
    n = 3000
    samples = model.generate(num_samples=n, seed=7)
    assert samples.shape == (n, model.input_dim) and samples.dtype == np.int32
    xs = _all_inputs(model.input_dim, model.levels)
    probs = np.exp(model.log_prob(xs))
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-4)
    codes = np.ravel_multi_index(samples.T, (model.levels,) * model.input_dim)
    counts = np.bincount(codes, minlength=len(xs))
    expected = probs / probs.sum() * n
    # Pool the rare outcomes so that every expected count is >= 5.
    rare = expected < 5
    obs = np.append(counts[~rare], counts[rare].sum())
    exp = np.append(expected[~rare], expected[rare].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    _, p = stats.chisquare(obs, exp)
    assert p > 1e-3, (p, obs, exp)


@pytest.mark.parametrize(
    *take_turns(
        "name,temperature",
        [
            ("binary_random_order_no_direct", 1.0),
            ("binary_ensemble", 0.7),
            ("levels3_custom_order_scaled", 0.7),
            ("levels3_ensemble_random", 1.0),
        ],
    )
)
def test_cached_generation_matches_uncached(name, temperature):
    model = MADE(seed=2, **CONFIGS[name])
    _sharpen(model, scale=1.0)
    a = model.generate(64, seed=11, temperature=temperature, use_cache=True)
    b = model.generate(64, seed=11, temperature=temperature, use_cache=False)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a, axis=0)) > 1


def test_conditional_cached_generation_matches_uncached():
    model = MADE(input_dim=4, hidden_units=(8,), num_classes=3, num_masks=2, seed=0)
    _sharpen(model, scale=1.0)
    labels = np.arange(32) % 3
    a = model.generate(32, seed=1, labels=labels, use_cache=True)
    b = model.generate(32, seed=1, labels=labels, use_cache=False)
    np.testing.assert_array_equal(a, b)


def test_generation_follows_the_ordering():
    # Every dimension strongly prefers 1: after k steps exactly the first k
    # dimensions of the ordering are set.
    model = MADE(input_dim=5, hidden_units=(8,), ordering=[3, 0, 4, 1, 2], seed=0)
    for w in model.trainable_weights:
        w.assign(np.zeros(tuple(w.shape), "float32"))
    model.output_layer.bias.assign(np.full((5,), 20.0, "float32"))
    for use_cache in (True, False):
        run = model._generation_loop(use_cache)
        state = model._generation_state(np.zeros((2, 5), "int32"), None, use_cache)
        noise = keras.ops.convert_to_tensor(np.full((5, 2, 1), 0.5, "float32"))
        for k in range(1, 6):
            out = run(dict(state), noise, 0, k, 1.0)
            x = to_numpy(out["x"])
            expected = np.zeros(5, "int32")
            expected[[3, 0, 4, 1, 2][:k]] = 1
            np.testing.assert_array_equal(x, np.tile(expected, (2, 1)))


def test_fit_lowers_loss_and_reports_nll_per_dim():
    rng = np.random.default_rng(0)
    # Correlated bits: x1 = x0, x2 = not x0, x3 random.
    x0 = rng.integers(0, 2, size=(256, 1))
    x = np.concatenate([x0, x0, 1 - x0, rng.integers(0, 2, size=(256, 1))], axis=1)
    model = MADE(input_dim=4, hidden_units=(16,), num_masks=3, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(x, epochs=6, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.05, losses
    assert "bits_per_dim" in history.history
    # Three mask sets cycled once per step: 6 epochs x 4 steps.
    assert int(to_numpy(model.mask_step)) == (6 * 4) % 3
    # The evaluation loss is the ensemble's -mean log_prob / D.
    loss = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, -model.log_prob(x).mean() / 4, rtol=1e-4)


def test_training_calls_cycle_mask_sets():
    model = MADE(input_dim=4, hidden_units=(8,), num_masks=3, seed=0)
    _sharpen(model)
    x = np.array([[1, 0, 1, 1]], "int32")
    outs = [to_numpy(model(x, training=True)) for _ in range(4)]
    assert int(to_numpy(model.mask_step)) == 4 % 3
    np.testing.assert_allclose(outs[0], outs[3], atol=1e-6)
    assert not np.allclose(outs[0], outs[1])


@pytest.mark.parametrize("name", ["binary", "levels3_ensemble_random"])
def test_save_load_round_trip(name, tmp_path):
    model = MADE(**CONFIGS[name])  # seed=None: drawn and kept in the config
    _sharpen(model)
    path = os.path.join(str(tmp_path), "made.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MADE)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.ordering, model.ordering)
    xs = _all_inputs(model.input_dim, model.levels)
    np.testing.assert_allclose(loaded.log_prob(xs), model.log_prob(xs), atol=1e-5)
    if model.num_masks == 1:  # (one compiled sampler per model is enough)
        np.testing.assert_array_equal(
            loaded.generate(16, seed=3), model.generate(16, seed=3)
        )


def test_config_round_trip_rebuilds_the_same_masks():
    config = dict(input_dim=5, levels=3, hidden_units=(7,), ordering="random")
    model = MADE(seed=9, num_masks=2, **config)
    clone = MADE.from_config(model.get_config())
    masks = [w for w in model.weights if w.path.endswith("/mask")]
    clone_masks = [w for w in clone.weights if w.path.endswith("/mask")]
    assert len(masks) == len(clone_masks) == 3  # hidden, output, direct
    for a, b in zip(masks, clone_masks):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    np.testing.assert_array_equal(clone.ordering, model.ordering)
    # Another seed re-samples the connectivity.
    other = MADE(seed=10, num_masks=2, **config)
    assert not np.array_equal(
        to_numpy(other.hidden_layers[0].mask), to_numpy(model.hidden_layers[0].mask)
    )


def test_bad_inputs():
    model = MADE(input_dim=3, levels=3, hidden_units=(4,), seed=0)
    with pytest.raises(ValueError, match="levels"):
        model.log_prob(np.array([[0, 1, 3]]))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 4), "int32"))
    with pytest.raises(ValueError, match="integers"):
        model.log_prob(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="input_dim"):
        model(np.zeros((2, 5), "int32"))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(2, temperature=0.0)
    with pytest.raises(ValueError, match="labels"):
        model.generate(2, labels=[0, 1])


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(input_dim=1), ValueError, "input_dim"),
        (dict(input_dim=3, levels=1), ValueError, "levels"),
        (dict(input_dim=3, hidden_units=()), ValueError, "hidden_units"),
        (dict(input_dim=3, hidden_units=(4, 0)), ValueError, "hidden_units"),
        (dict(input_dim=3, ordering=[0, 1, 1]), ValueError, "ordering"),
        (dict(input_dim=3, ordering="reverse"), ValueError, "ordering"),
        (dict(input_dim=3, num_masks=0), ValueError, "num_masks"),
        (
            dict(input_dim=3, num_masks=2, hidden_degrees="equal"),
            ValueError,
            "num_masks",
        ),
        (dict(input_dim=3, hidden_degrees="sorted"), ValueError, "hidden_degrees"),
        (dict(input_dim=3, input_encoding="binary"), ValueError, "input_encoding"),
        (dict(input_dim=3, direct_connection="yes"), TypeError, "direct_connection"),
        (dict(input_dim=3, seed=-1), ValueError, "seed"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MADE(hidden_units=kwargs.pop("hidden_units", (4,)), **kwargs)
