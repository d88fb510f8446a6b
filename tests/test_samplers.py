"""Samplers on their own: the tokens they may emit, inverse-CDF draws,
temperature, beam steps, validation and config round trips."""

import keras
import numpy as np
import pytest

from keras_ar import samplers
from keras_ar.samplers import (
    BeamSampler,
    GreedySampler,
    RandomSampler,
    TopKSampler,
    TopPSampler,
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _inverse_cdf(probs, uniforms):
    """NumPy reference: the smallest k with CDF(k) > u, per row."""
    cdf = np.cumsum(probs, axis=-1)
    return np.minimum((cdf <= uniforms[:, None]).sum(-1), probs.shape[-1] - 1)


def _softmax(logits):
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _grid(batch, vocab, num_uniforms, seed=0):
    """Random logits repeated over an even grid of uniforms."""
    logits = np.random.default_rng(seed).normal(0, 2, (batch, vocab)).astype("float32")
    uniforms = (np.arange(num_uniforms, dtype="float32") + 0.5) / num_uniforms
    tiled = np.repeat(logits, num_uniforms, axis=0)
    u = np.tile(uniforms, batch)
    return logits, tiled, u


def test_greedy_is_argmax_and_ignores_uniforms_and_temperature():
    logits, tiled, u = _grid(5, 7, 4)
    tokens = _np(GreedySampler()(tiled, u, temperature=3.0))
    np.testing.assert_array_equal(tokens, np.repeat(logits.argmax(-1), 4))


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.5])
def test_random_sampler_is_inverse_cdf_of_tempered_softmax(temperature):
    _, tiled, u = _grid(4, 6, 50)
    tokens = _np(RandomSampler()(tiled, u, temperature=temperature))
    expected = _inverse_cdf(_softmax(tiled / temperature), u)
    np.testing.assert_array_equal(tokens, expected)
    assert tokens.dtype == np.int32


def test_temperature_sharpens_and_flattens():
    _, tiled, u = _grid(1, 6, 400)
    distinct = [
        len(np.unique(_np(RandomSampler()(tiled, u, temperature=t))))
        for t in (0.05, 1.0, 20.0)
    ]
    assert distinct[0] == 1 and distinct[2] == 6 and distinct[0] < distinct[1]


@pytest.mark.parametrize("k", [1, 2, 4])
def test_top_k_emits_only_the_top_k(k):
    logits, tiled, u = _grid(6, 8, 200)
    # Temperature 5 flattens the softmax, so without the cut every token
    # would appear: the restriction is what is being tested.
    tokens = _np(TopKSampler(k)(tiled, u, temperature=5.0)).reshape(6, 200)
    plain = _np(RandomSampler()(tiled, u, temperature=5.0)).reshape(6, 200)
    for row in range(6):
        allowed = set(np.argsort(-logits[row])[:k].tolist())
        assert set(tokens[row].tolist()) == allowed
        assert not set(plain[row].tolist()) <= allowed
        # Within the top k the draw is the renormalized softmax.
        probs = _softmax(logits[row] / 5.0)
        probs[[t for t in range(8) if t not in allowed]] = 0.0
        probs /= probs.sum()
        expected = _inverse_cdf(np.repeat(probs[None], 200, 0), u[:200])
        np.testing.assert_array_equal(tokens[row], expected)


def test_top_k_equal_to_vocab_is_random_sampling():
    _, tiled, u = _grid(3, 5, 40)
    np.testing.assert_array_equal(
        _np(TopKSampler(5)(tiled, u)), _np(RandomSampler()(tiled, u))
    )


@pytest.mark.parametrize(
    "p, nucleus",
    [
        (0.3, {0}),
        (0.49, {0}),
        (0.51, {0, 1}),
        (0.7, {0, 1}),
        (0.81, {0, 1, 2}),
        (1.0, {0, 1, 2, 3}),
    ],
)
def test_top_p_emits_only_the_nucleus(p, nucleus):
    probs = np.array([0.5, 0.3, 0.15, 0.05], "float32")
    perm = np.array([2, 0, 3, 1])  # the nucleus is not simply a prefix
    logits = np.log(probs)[perm][None]
    u = (np.arange(500, dtype="float32") + 0.5) / 500
    tokens = _np(TopPSampler(p)(np.repeat(logits, 500, 0), u))
    inv = np.argsort(perm)
    assert set(tokens.tolist()) == {int(inv[t]) for t in nucleus}


def test_top_p_one_is_random_sampling_and_k_cut_applies_first():
    _, tiled, u = _grid(3, 6, 60)
    np.testing.assert_array_equal(
        _np(TopPSampler(1.0)(tiled, u)), _np(RandomSampler()(tiled, u))
    )
    np.testing.assert_array_equal(
        _np(TopPSampler(1.0, k=2)(tiled, u)), _np(TopKSampler(2)(tiled, u))
    )


def test_top_p_one_keeps_the_float32_tail():
    """p = 1 is plain sampling: no tail token is lost to a float32 cumulative
    sum that reaches 1 early (large vocabulary, many small probabilities)."""
    logits = np.random.default_rng(0).normal(0, 3, (4, 5000)).astype("float32")
    for k in (None, 5000):
        kept = _np(TopPSampler(1.0, k=k).compute_logits(logits))
        np.testing.assert_array_equal(kept, logits)


def _hub_frequencies(hub, logits, draws):
    """Empirical distribution of keras-hub's sampler over `draws` draws."""
    tiled = np.repeat(logits[None], draws, axis=0)
    probs = hub.compute_probabilities(keras.ops.convert_to_tensor(tiled))
    tokens = _np(hub.get_next_token(probs))
    return np.bincount(tokens, minlength=logits.shape[-1]) / draws


def _our_frequencies(sampler, logits, draws):
    """keras_ar's distribution: inverse CDF over an even grid of uniforms."""
    u = (np.arange(draws, dtype="float32") + 0.5) / draws
    tokens = _np(sampler(np.repeat(logits[None], draws, axis=0), u))
    return np.bincount(tokens, minlength=logits.shape[-1]) / draws


@pytest.mark.parametrize(
    "p, k, expected",
    [
        # p is measured on the full distribution, not the renormalized top
        # k: tokens 0 and 1 hold .52 <= .55, so both are kept.
        (0.55, 2, [0.3 / 0.52, 0.22 / 0.52, 0, 0, 0]),
        (0.55, None, [0.3 / 0.7, 0.22 / 0.7, 0.18 / 0.7, 0, 0]),
        (0.2, 3, [1, 0, 0, 0, 0]),
        (1.0, 3, [0.3 / 0.7, 0.22 / 0.7, 0.18 / 0.7, 0, 0]),
    ],
)
def test_top_p_with_k_matches_keras_hub_distribution(p, k, expected):
    keras_hub = pytest.importorskip("keras_hub")
    logits = np.log(np.array([0.3, 0.22, 0.18, 0.15, 0.15], "float32"))
    ours = _our_frequencies(TopPSampler(p, k=k), logits, 4000)
    np.testing.assert_allclose(ours, expected, atol=1e-3)
    hub = keras_hub.samplers.TopPSampler(p=p, k=k, seed=0)
    theirs = _hub_frequencies(hub, logits, 4000)
    assert set(np.flatnonzero(theirs)) == set(np.flatnonzero(ours))
    # 4000 draws: the standard error of each frequency is below .008.
    np.testing.assert_allclose(theirs, ours, atol=0.04)


def test_beam_select_step():
    sampler = BeamSampler(num_beams=2)
    scores = np.array([[-0.1, -2.0]], "float32")
    log_p = np.log(np.array([[[0.6, 0.4], [0.9, 0.1]]], "float32"))
    new_scores, parents, tokens = (
        _np(t) for t in sampler.select(scores, log_p, temperature=1.0)
    )
    candidates = scores[..., None] + log_p
    order = np.argsort(-candidates.reshape(-1))[:2]
    np.testing.assert_allclose(new_scores[0], candidates.reshape(-1)[order], rtol=1e-6)
    np.testing.assert_array_equal(parents[0], order // 2)
    np.testing.assert_array_equal(tokens[0], order % 2)
    # A finished beam continues with the pad token only, at no cost.
    finished = np.array([[True, False]])
    new_scores, parents, tokens = (
        _np(t) for t in sampler.select(scores, log_p, finished=finished, pad_token_id=1)
    )
    np.testing.assert_allclose(new_scores[0], [-0.1, -2.0 + np.log(0.9)], rtol=1e-6)
    np.testing.assert_array_equal(parents[0], [0, 1])
    np.testing.assert_array_equal(tokens[0], [1, 0])


def test_one_beam_is_greedy():
    logits = np.random.default_rng(3).normal(size=(4, 1, 9)).astype("float32")
    _, _, tokens = BeamSampler(1).select(BeamSampler(1).initial_scores(4), logits)
    np.testing.assert_array_equal(_np(tokens)[:, 0], logits[:, 0].argmax(-1))
    with pytest.raises(NotImplementedError, match="generate"):
        BeamSampler(2)(logits[:, 0], np.zeros(4, "float32"))


def test_get_resolves_names_and_objects():
    assert isinstance(samplers.get("random"), RandomSampler)
    assert isinstance(samplers.get("greedy"), GreedySampler)
    assert samplers.get("top_k", top_k=3).k == 3
    top_p = samplers.get("top_p", top_p=0.5, top_k=4)
    assert (top_p.p, top_p.k) == (0.5, 4)
    assert samplers.get("beam", num_beams=7).num_beams == 7
    sampler = TopKSampler(2)
    assert samplers.get(sampler) is sampler


def test_validation_errors():
    with pytest.raises(ValueError, match="random.*greedy.*top_k.*top_p.*beam"):
        samplers.get("nucleus")
    with pytest.raises(ValueError, match="`top_k` has no effect"):
        samplers.get("random", top_k=3)
    with pytest.raises(ValueError, match="constructor"):
        samplers.get(TopKSampler(2), top_k=3)
    with pytest.raises(ValueError, match="top_k"):
        TopKSampler(0)
    with pytest.raises(TypeError, match="top_k"):
        TopKSampler(2.5)
    with pytest.raises(ValueError, match="top_k.*<= 4"):
        TopKSampler(5).validate(4)
    for p in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="top_p"):
            TopPSampler(p)
    with pytest.raises(TypeError, match="top_p"):
        TopPSampler("high")
    with pytest.raises(ValueError, match="num_beams"):
        BeamSampler(0)


@pytest.mark.parametrize(
    "sampler",
    [
        RandomSampler(),
        GreedySampler(),
        TopKSampler(3),
        TopPSampler(0.8, k=4),
        BeamSampler(3, return_all_beams=True),
    ],
)
def test_config_round_trip(sampler):
    clone = type(sampler).from_config(sampler.get_config())
    assert clone.get_config() == sampler.get_config()
    assert clone.cache_key == sampler.cache_key
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(sampler)
    )
    assert type(revived) is type(sampler)
    assert revived.get_config() == sampler.get_config()


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (GreedySampler(), ("GreedySampler", {})),
        (TopKSampler(3), ("TopKSampler", {"k": 3})),
        (TopPSampler(0.7), ("TopPSampler", {"p": 0.7})),
        (TopPSampler(0.6, k=3), ("TopPSampler", {"p": 0.6, "k": 3})),
        (TopPSampler(1.0), ("TopPSampler", {"p": 1.0})),
        (RandomSampler(), ("RandomSampler", {})),
    ],
    ids=["greedy", "top_k", "top_p", "top_p_k", "top_p_1", "random"],
)
def test_same_candidates_as_keras_hub(ours, theirs):
    """keras_ar's samplers do keras-hub's job (the docstring says why they
    are kept): from the same logits they emit the same set of tokens."""
    keras_hub = pytest.importorskip("keras_hub")
    name, kwargs = theirs
    hub = getattr(keras_hub.samplers, name)(**kwargs, **(
        {} if name == "GreedySampler" else {"seed": 0}
    ))  # fmt: skip
    logits, tiled, u = _grid(4, 8, 300, seed=5)
    tiled = tiled / 2.0  # flatter, so every candidate is drawn
    mine = _np(ours(tiled, u)).reshape(4, 300)
    probs = hub.compute_probabilities(keras.ops.convert_to_tensor(tiled))
    drawn = _np(hub.get_next_token(probs)).reshape(4, 300)
    for row in range(4):
        assert set(mine[row].tolist()) == set(drawn[row].tolist())
