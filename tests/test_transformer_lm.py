"""TransformerLM: a normalized likelihood (fixed-length and padded texts with
their end), causality, the key/value cache equal to the full call, generation
(cached == uncached, chi-square against exp(log_prob), samplers, stop tokens),
training, the keras-hub tokenizer through save/load, and input errors."""

import itertools
import sys

import keras
import numpy as np
import pytest

from keras_ar.models.transformer_lm import TransformerLM
from tests.helpers import math_on_torch, not_on, only_on, take_turns
from tests.model_checks import (
    assert_lm_fit_lowers_loss,
    assert_padded_texts_follow,
    assert_tokenizer_travels,
    counting_texts,
    padded_texts,
    redraw_weights,
    word_piece_tokenizer,
)

ARCH = dict(num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16)
VOCAB, LENGTH = 4, 3
ALL_SEQUENCES = np.array(list(itertools.product(range(VOCAB), repeat=LENGTH)), "int32")
# Every valid right-padded text: 1 + 3 + 9 + 27 of them.
PADDED_TEXTS = padded_texts(VOCAB, LENGTH)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _tiny(**kwargs):
    config = dict(vocab_size=VOCAB, sequence_length=LENGTH, **ARCH)
    config.update(kwargs)
    model = TransformerLM(**config)
    # Every weight redrawn with NumPy: far from uniform (the most likely
    # text is 5 to 10 times the uniform probability), yet every text has a
    # probability a few thousand samples can test; the same on every backend.
    redraw_weights([model], scale=0.5, seed=1)
    return model


@pytest.fixture(scope="module")
def padded():
    return _tiny()


@pytest.fixture(scope="module")
def small():
    """A longer model for the generation tests (one set of shapes)."""
    keras.utils.set_random_seed(11)
    model = TransformerLM(vocab_size=7, sequence_length=6, **ARCH)
    redraw_weights([model], scale=0.5, seed=2)
    return model


# ----------------------------------------------------------------------
# Likelihood
@pytest.mark.parametrize(
    *take_turns("kwargs", [{"start_token_id": 1, "tie_weights": False}, {}]),
    ids=["start-token-untied", "start-embedding-tied"],
)
def test_exp_log_prob_sums_to_one_over_fixed_length_sequences(kwargs):
    model = _tiny(pad_token_id=None, **kwargs)
    probs = np.exp(model.log_prob(ALL_SEQUENCES))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)
    assert probs.max() > 4.0 / len(ALL_SEQUENCES)
    # The first token is scored: its marginal is the start position's softmax.
    first = [probs[ALL_SEQUENCES[:, 0] == v].sum() for v in range(VOCAB)]
    start = dict(model.next_token_probs(None, top=VOCAB))
    np.testing.assert_allclose([start[v] for v in range(VOCAB)], first, rtol=1e-4)


def test_exp_log_prob_is_a_distribution_over_padded_texts(padded):
    probs = np.exp(padded.log_prob(PADDED_TEXTS))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)
    assert probs.max() > 4.0 / len(PADDED_TEXTS)
    # The empty text is the end drawn first.
    np.testing.assert_allclose(probs[0], dict(padded.next_token_probs(None))[0], rtol=1e-4)
    # Whatever follows the end is not scored.
    x = np.array([[2, 0, 0], [2, 0, 3]], "int32")
    log_prob = padded.log_prob(x)
    assert log_prob[0] == log_prob[1]


def test_whole_model_causality(small):
    x = np.array([[3, 1, 4, 1, 5, 2]], "int32")
    # Row 0 is x, row 1 + t is x with token t changed: one forward pass.
    batch = np.repeat(x, 7, axis=0)
    for t in range(6):
        batch[1 + t, t] = (batch[1 + t, t] + 1) % 7
    logits = _np(small(batch))
    for t in range(6):
        changed = np.abs(logits[1 + t] - logits[0]).max(axis=-1) > 1e-6
        # Position t' reads x_t exactly when t < t'.
        np.testing.assert_array_equal(changed, np.arange(6) > t)


def test_key_value_cache_equals_the_full_call(small):
    x = np.random.default_rng(2).integers(1, 7, size=(3, 6)).astype("int32")
    full = _np(small(x))
    xt = keras.ops.convert_to_tensor(x)
    for prompt_length in (0, 4):
        cache = small._init_cache(xt, prompt_length)
        for i in range(prompt_length, 6):
            logits, cache = small._cached_logits(
                keras.ops.convert_to_tensor(i, "int32"), xt, cache
            )
            np.testing.assert_allclose(_np(logits), full[:, i], atol=1e-5)
    # The cache holds one [keys, values] pair per layer, each (B, heads, T, dim).
    kv = cache["key_value"]
    assert len(kv) == 2 and all(len(pair) == 2 for pair in kv)
    assert {tuple(t.shape) for pair in kv for t in pair} == {(3, 2, 6, 4)}


# ----------------------------------------------------------------------
# Generation
@math_on_torch
def test_generated_texts_end_and_follow_exp_log_prob(padded):
    assert_padded_texts_follow(padded, PADDED_TEXTS, 3000)


GENERATE = dict(prompt=[3, 1], num_samples=100, temperature=1.5, seed=4)


@pytest.mark.parametrize(
    *take_turns(
        "sampler, options",
        [
            ("random", {}),
            # The random sampler's step with a nucleus: RecurrentLM's
            # module runs it compiled (test time here).
            pytest.param(
                "top_p", {"top_p": 0.6},
                marks=only_on("torch", "top-p compiled in test_recurrent_lm.py"),
            ),
            ("beam", {"num_beams": 3}),
        ],
    )
)
def test_cached_equals_uncached(small, sampler, options):
    kwargs = {**GENERATE, **options, "sampler": sampler}
    cached = small.generate(use_cache=True, **kwargs)
    uncached = small.generate(use_cache=False, **kwargs)
    assert cached.shape == (100, 6) and cached.dtype == np.int32
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_array_equal(cached[:, :2], np.tile([3, 1], (100, 1)))
    if sampler != "beam":
        assert not np.array_equal(small.generate(**{**kwargs, "seed": 5}), cached)


def test_greedy_picks_the_argmax_and_stop_tokens_end(small):
    x = small.generate(prompt=[3, 1], sampler="greedy", stop_token_ids=None)
    logits = _np(small(x))[0]
    np.testing.assert_array_equal(x[0, 2:], logits[2:].argmax(-1))
    # Stopping at the first greedy token keeps it and pads the rest.
    stop = int(x[0, 2])
    y = small.generate(prompt=[3, 1], sampler="greedy", stop_token_ids=[stop])
    np.testing.assert_array_equal(y[0], [3, 1, stop, 0, 0, 0])


def test_keras_hub_sampler_cached_equals_uncached(small):
    keras_hub = pytest.importorskip("keras_hub")
    greedy = keras_hub.samplers.GreedySampler()
    a = small.generate(prompt=[3, 1], num_samples=2, sampler=greedy, use_cache=True)
    b = small.generate(prompt=[3, 1], num_samples=2, sampler=greedy, use_cache=False)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 6) and (a[:, :2] == [3, 1]).all()
    # keras-hub's greedy choice is keras_ar's (stop at the end, by default).
    np.testing.assert_array_equal(a, small.generate(prompt=[3, 1], num_samples=2, sampler="greedy"))


# ----------------------------------------------------------------------
# Training, tokenizer, saving
@only_on(
    "torch",
    "test time: its compiled fit runs in test_training_api.py (TensorFlow), and "
    "the perplexity metric compiled in test_recurrent_lm.py",
)
def test_fit_lowers_loss_and_reports_perplexity():
    keras.utils.set_random_seed(5)
    x = counting_texts()
    model = TransformerLM(vocab_size=11, sequence_length=8, dropout=0.1, **ARCH)
    assert_lm_fit_lowers_loss(model, x, learning_rate=0.02, epochs=20, factor=0.8)
    evaluated = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    np.testing.assert_allclose(model.perplexity(x), evaluated["perplexity"], rtol=1e-4)


@not_on("jax", "keras-hub tokenizer assets: the same Python on every backend (test time)")
def test_word_piece_tokenizer_travels_with_the_model(tmp_path):
    texts = [
        "Recipe for roasted carrots with honey",
        "Recipe for roasted chicken with lemon",
        "Recipe for lemon soup",
    ]
    tokenizer, vocabulary = word_piece_tokenizer(texts, vocabulary_size=60)
    keras.utils.set_random_seed(2)
    model = TransformerLM(
        vocab_size=len(vocabulary), sequence_length=16, tokenizer=tokenizer, **ARCH
    )
    loaded = assert_tokenizer_travels(model, vocabulary, tmp_path)
    np.testing.assert_array_equal(loaded.encode("roasted lemon"), model.encode("roasted lemon"))
    x = np.zeros((1, 16), "int32")
    x[0, :5] = model.encode("recipe for lemon soup")[:5]
    np.testing.assert_allclose(loaded.log_prob(x), model.log_prob(x), atol=1e-5)
    assert loaded.get_config() == model.get_config()


def test_bad_inputs(small, monkeypatch):
    with pytest.raises(ValueError, match="max_length.*<= 6"):
        small.generate(max_length=7)
    with pytest.raises(ValueError, match=r"prompt.*\[0, 7\)"):
        small.generate(prompt=[9])
    with pytest.raises(ValueError, match="shape"):
        small.log_prob(np.zeros((2, 5), "int32"))
    with pytest.raises(ValueError, match="tokenizer"):
        small.generate("Recipe for")
    with pytest.raises(ValueError, match="multiple of `num_heads`"):
        TransformerLM(10, 4, num_heads=3, hidden_dim=8)
    with pytest.raises(ValueError, match="sequence_length"):
        TransformerLM(10, None)
    with pytest.raises(ValueError, match="start_token_id"):
        TransformerLM(10, 4, start_token_id=10, **ARCH)
    with pytest.raises(ValueError, match="dropout"):
        TransformerLM(10, 4, dropout=1.0, **ARCH)
    with pytest.raises(TypeError, match="num_layers"):
        TransformerLM(10, 4, num_layers=None)
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    with pytest.raises(ImportError, match=r"TransformerLM.*pip install -e \"\.\[text\]\""):
        TransformerLM(10, 4, **ARCH)
