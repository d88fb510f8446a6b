"""RecurrentLM (and the TextAutoregressiveModel base): a normalized
likelihood with a start state, over padded texts with a scored end;
step-wise states equal to the full call; generation with every sampler,
keras_ar's and keras-hub's (cached == uncached, generated texts end and
follow exp(log_prob) by chi-square, beam search exact on a tiny model); text
prompts; tokenizers saved inside the .keras file (TextVectorization and
keras-hub WordPiece); training, saving and input errors."""

import itertools

import keras
import numpy as np
import pytest
from scipy import stats

from keras_ar.models.recurrent_lm import RecurrentLM
from keras_ar.samplers import BeamSampler, TopPSampler
from tests.helpers import not_on, take_turns
from tests.model_checks import (
    assert_lm_fit_lowers_loss,
    assert_padded_texts_follow,
    assert_samples_follow,
    assert_save_load_log_prob,
    assert_tokenizer_travels,
    counting_texts,
    padded_texts,
    word_piece_tokenizer,
)

VOCAB, LENGTH = 3, 3
ALL_SEQUENCES = np.array(list(itertools.product(range(VOCAB), repeat=LENGTH)), "int32")

# keras-hub's samplers are keras.ops code that runs inside keras_ar's loop:
# checked on TensorFlow (compiled) and PyTorch (eager); JAX compiles every
# keras_ar sampler's loop in test_cached_equals_uncached (test time).
hub_off_jax = pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="checked on TensorFlow and PyTorch"
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _sharpen(model, scale=3.0, seed=0):
    """Re-draws the output layer far from uniform (large random logits)."""
    rng = np.random.default_rng(seed)
    for weight in (model.head.kernel, model.head.bias):
        weight.assign(rng.normal(0.0, scale, weight.shape).astype("float32"))
    return model


def _tiny(**kwargs):
    config = dict(
        vocab_size=VOCAB,
        sequence_length=LENGTH,
        embedding_dim=4,
        units=6,
        pad_token_id=None,
    )
    config.update(kwargs)
    return _sharpen(RecurrentLM(**config))


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(7)
    return _tiny()


@pytest.fixture(scope="module")
def small():
    """A model with padding and a bigger vocabulary for generation tests."""
    keras.utils.set_random_seed(11)
    model = RecurrentLM(
        vocab_size=7, sequence_length=6, embedding_dim=5, units=8, num_layers=2
    )
    return _sharpen(model, scale=1.5, seed=1)


# ----------------------------------------------------------------------
# Likelihood
@pytest.mark.parametrize(
    *take_turns(
        "kwargs",
        [
            {},
            {"cell": "gru"},
            {"num_layers": 2},
            {"cell": "gru", "num_layers": 2, "start_token_id": 1},
        ],
    ),
    ids=["lstm", "gru", "lstm-2-layers", "gru-2-layers-start-token"],
)
def test_exp_log_prob_sums_to_one(kwargs):
    model = _tiny(**kwargs)
    probs = np.exp(model.log_prob(ALL_SEQUENCES))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)
    # Far from uniform, so that a missing first-token term would show.
    assert probs.max() > 4.0 / len(ALL_SEQUENCES)
    if kwargs:
        return
    # The first token is scored: its marginal is the start-state softmax.
    first = np.array([probs[ALL_SEQUENCES[:, 0] == v].sum() for v in range(VOCAB)])
    start = model.next_token_probs(None, top=VOCAB)
    np.testing.assert_allclose(
        [p for _, p in sorted(start)], first, rtol=1e-4, atol=1e-6
    )


# Every valid right-padded text of a 4-token vocabulary (0 is the pad, the
# end of a text): k real tokens then pads, k = 0..3; 1 + 3 + 9 + 27 texts.
PAD_VOCAB = 4
PADDED_TEXTS = padded_texts(PAD_VOCAB, LENGTH)


@pytest.fixture(scope="module")
def padded():
    keras.utils.set_random_seed(9)
    return _tiny(vocab_size=PAD_VOCAB, pad_token_id=0)


@pytest.mark.parametrize(*take_turns("kwargs", [{}, {"cell": "gru", "num_layers": 2}]))
def test_exp_log_prob_is_a_distribution_over_padded_texts(kwargs):
    keras.utils.set_random_seed(9)
    model = _tiny(vocab_size=PAD_VOCAB, pad_token_id=0, **kwargs)
    probs = np.exp(model.log_prob(PADDED_TEXTS))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)
    assert probs.max() > 4.0 / len(PADDED_TEXTS)
    # The empty text is the end drawn first: the start-state probability of 0.
    start = dict(model.next_token_probs(None, top=PAD_VOCAB))
    np.testing.assert_allclose(probs[0], start[0], rtol=1e-4)


def test_generated_texts_end_and_follow_exp_log_prob(padded):
    # Every text ends at its first pad: only padding follows it.
    assert_padded_texts_follow(padded, PADDED_TEXTS, 4000)
    # stop_token_ids=None draws the pad like any token: texts with words
    # after a pad appear.
    free = padded.generate(num_samples=500, seed=0, stop_token_ids=None)
    after_pad = np.cumsum(free == 0, axis=1) > 0
    assert (after_pad & (free != 0)).any()


def test_beam_search_scores_whole_texts(padded):
    # 16 beams hold every valid 2-token prefix (13 of them): exhaustive. An
    # ended beam is extended by padding at no cost, so the scores are the
    # log-probabilities of whole texts, end included.
    log_prob = padded.log_prob(PADDED_TEXTS)
    beams, scores = padded.generate(
        sampler=BeamSampler(num_beams=16, return_all_beams=True)
    )
    top = np.argsort(-log_prob)[:16]
    np.testing.assert_array_equal(beams[0], PADDED_TEXTS[top])
    np.testing.assert_allclose(scores[0], log_prob[top], rtol=1e-4)


@hub_off_jax
def test_keras_hub_random_sampler_follows_exp_log_prob(padded):
    keras_hub = pytest.importorskip("keras_hub")
    n = 4000
    samples = padded.generate(
        num_samples=n, sampler=keras_hub.samplers.RandomSampler(seed=3)
    )
    assert_samples_follow(samples, PADDED_TEXTS, np.exp(padded.log_prob(PADDED_TEXTS)))


def test_logits_are_causal(tiny):
    x = np.array([[0, 1, 2]], "int32")
    # Row 0 is x, row 1 + t is x with token t changed: one forward pass.
    batch = np.repeat(x, LENGTH + 1, axis=0)
    for t in range(LENGTH):
        batch[1 + t, t] = (batch[1 + t, t] + 1) % VOCAB
    logits = _np(tiny(batch))
    for t in range(LENGTH):
        changed = np.abs(logits[1 + t] - logits[0]).max(axis=-1) > 1e-6
        # Position t' depends on x_t exactly when t < t'.
        np.testing.assert_array_equal(changed, np.arange(LENGTH) > t)


def test_the_end_is_scored_and_what_follows_is_masked():
    keras.utils.set_random_seed(3)
    model = _sharpen(
        RecurrentLM(vocab_size=6, sequence_length=5, embedding_dim=4, units=6),
        scale=1.0,
    )
    x = np.array([[3, 2, 0, 0, 0], [1, 4, 5, 0, 0], [5, 5, 5, 5, 1]], "int32")
    # Whatever follows the first pad token (the end) is not scored.
    after = np.array([[3, 2, 0, 4, 5], [1, 4, 5, 0, 2], [5, 5, 5, 5, 1]], "int32")
    both = model.log_prob(np.concatenate([x, after]))
    log_prob = both[:3]
    np.testing.assert_allclose(both[3:], log_prob, rtol=1e-6)
    logits = _np(model(x))
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_softmax, x[..., None], -1)[..., 0]
    # The words and the end (the first pad); a full row has no end token.
    lengths = np.array([3, 4, 5])
    expected = [picked[i, : lengths[i]].sum() for i in range(3)]
    np.testing.assert_allclose(log_prob, expected, rtol=1e-5)
    log_prob_again, dims = model.log_prob_and_dims(
        x, keras.ops.convert_to_tensor(logits)
    )
    np.testing.assert_array_equal(_np(dims), lengths)
    np.testing.assert_allclose(_np(log_prob_again), log_prob, rtol=1e-5)
    # The reported loss is nats per scored token, the end included.
    model.compile(optimizer="adam")
    for data in (x, after):
        result = model.evaluate(data, batch_size=3, verbose=0, return_dict=True)
        np.testing.assert_allclose(
            result["loss"], -log_prob.sum() / lengths.sum(), rtol=1e-5
        )
        np.testing.assert_allclose(
            result["perplexity"], np.exp(-log_prob.sum() / lengths.sum()), rtol=1e-5
        )
    np.testing.assert_allclose(
        model.perplexity(x), np.exp(-log_prob.sum() / lengths.sum()), rtol=1e-5
    )


def test_fit_lowers_loss_and_reports_perplexity():
    keras.utils.set_random_seed(5)
    model = RecurrentLM(vocab_size=11, sequence_length=8, embedding_dim=8, units=16)
    assert_lm_fit_lowers_loss(
        model, counting_texts(), learning_rate=0.05, epochs=12, factor=0.7
    )


def test_step_wise_states_equal_the_full_call(small):
    x = np.random.default_rng(2).integers(1, 7, size=(3, 6)).astype("int32")
    full = _np(small(x))
    states = small.get_initial_state(3)
    logits, states = small.step(states, None)
    np.testing.assert_allclose(_np(logits), full[:, 0], atol=1e-5)
    for t in range(1, 6):
        logits, states = small.step(states, x[:, t - 1])
        np.testing.assert_allclose(_np(logits), full[:, t], atol=1e-5)
    # Like keras-hub's start_index test: consume a prompt of any length in
    # one pass, then continue step by step.
    for k in (1, 4):
        states = small.consume_prompt(x[:, :k])
        logits, _ = small.step(states, x[:, k - 1])
        np.testing.assert_allclose(_np(logits), full[:, k], atol=1e-5)


# ----------------------------------------------------------------------
# Generation
def test_random_samples_follow_exp_log_prob(tiny):
    n = 4000
    samples = tiny.generate(num_samples=n, seed=0)
    assert samples.shape == (n, LENGTH) and samples.dtype == np.int32
    codes = (samples * VOCAB ** np.arange(LENGTH - 1, -1, -1)).sum(1)
    observed = np.bincount(codes, minlength=len(ALL_SEQUENCES))
    expected = np.exp(tiny.log_prob(ALL_SEQUENCES)) * n
    # Pool the rare sequences into one bin so every expected count is >= 5.
    rare = expected < 5
    obs = np.append(observed[~rare], observed[rare].sum())
    exp = np.append(expected[~rare], expected[rare].sum())
    _, p_value = stats.chisquare(obs, exp * obs.sum() / exp.sum())
    assert p_value > 1e-3, p_value


SAMPLERS = [
    ("random", {}),
    ("greedy", {}),
    ("top_k", {"top_k": 2}),
    ("top_p", {"top_p": 0.5}),
    ("beam", {"num_beams": 3}),
]
# One set of shapes and options for the generation tests of `small`, so that
# the loops compiled by the cached-vs-uncached test are reused (JAX compiles
# once per shape).
GENERATE = dict(prompt=[3, 1], num_samples=200, temperature=1.7, seed=4)


def _generate(model, sampler="random", **kwargs):
    options = dict(SAMPLERS)[sampler] if isinstance(sampler, str) else {}
    return model.generate(sampler=sampler, **{**GENERATE, **options, **kwargs})


@pytest.mark.parametrize(*take_turns("name", [s for s, _ in SAMPLERS]))
def test_cached_equals_uncached(small, name):
    cached = _generate(small, name, use_cache=True)
    uncached = _generate(small, name, use_cache=False)
    assert cached.shape == (200, 6) and cached.dtype == np.int32
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_array_equal(cached[:, :2], np.tile([3, 1], (200, 1)))
    # Same seed, same samples.
    np.testing.assert_array_equal(_generate(small, name), cached)
    if name in ("random", "top_p"):
        assert not np.array_equal(_generate(small, name, seed=5), cached)


def _logits_along(model, x):
    """Logits at every position of generated sequences (full call)."""
    return _np(model(x)).astype("float64")


def _ranks(model, x):
    """Rank (0 = most likely) of each token of `x` under the model."""
    ranks = (-_logits_along(model, x)).argsort(-1).argsort(-1)
    return np.take_along_axis(ranks, x[..., None], -1)[..., 0]


def test_greedy_picks_the_argmax(small):
    x = _generate(small, "greedy")
    assert _ranks(small, x)[:, 2:].max() == 0
    # Beam search with one beam is greedy decoding.
    np.testing.assert_array_equal(_generate(small, BeamSampler(1)), x)


def test_top_k_stays_in_the_top_k(small):
    ranks = _ranks(small, _generate(small, "top_k"))[:, 2:]
    assert ranks.max() == 1 and ranks.min() == 0
    # Without the cut, the flattened softmax emits lower-ranked tokens.
    assert _ranks(small, _generate(small, "random"))[:, 2:].max() > 1


def test_top_p_stays_in_the_nucleus(small):
    x = _generate(small, "top_p")
    probs = np.exp(_logits_along(small, x) / GENERATE["temperature"])
    probs /= probs.sum(-1, keepdims=True)
    picked = np.take_along_axis(probs, x[..., None], -1)
    # Mass of the tokens strictly more likely than the one emitted.
    mass_before = np.where(probs > picked, probs, 0.0).sum(-1)[:, 2:]
    assert mass_before.max() < 0.5 + 1e-5
    assert (mass_before > 0).any()


def test_beam_search(tiny):
    # Nine beams cover every prefix of length 2: the search is exhaustive.
    log_prob = tiny.log_prob(ALL_SEQUENCES)
    best = tiny.generate(sampler="beam", num_beams=9, num_samples=2)
    np.testing.assert_array_equal(best, ALL_SEQUENCES[[log_prob.argmax()] * 2])
    beams, scores = tiny.generate(
        sampler=BeamSampler(num_beams=9, return_all_beams=True), num_samples=2
    )
    assert beams.shape == (2, 9, LENGTH) and scores.shape == (2, 9)
    top9 = np.argsort(-log_prob)[:9]
    np.testing.assert_array_equal(beams[1], ALL_SEQUENCES[top9])
    np.testing.assert_allclose(scores[0], log_prob[top9], rtol=1e-4)
    np.testing.assert_allclose(scores[0], tiny.log_prob(beams[0]), rtol=1e-4)


def test_stop_tokens_end_sequences(small):
    stop = [1, 2, 3]
    kwargs = dict(prompt=[2], num_samples=40, max_length=8, stop_token_ids=stop)
    x = small.generate(seed=3, temperature=2.0, **kwargs)
    assert x.shape == (40, 8)
    uncached = small.generate(seed=3, temperature=2.0, use_cache=False, **kwargs)
    np.testing.assert_array_equal(x, uncached)
    generated = x[:, 1:]
    is_stop = np.isin(generated, stop)
    stopped = is_stop.any(axis=1)
    assert stopped.any() and not stopped.all()
    for row, hits in zip(generated, is_stop):
        if hits.any():
            # The stop token is kept, the rest is pad_token_id.
            np.testing.assert_array_equal(row[hits.argmax() + 1 :], 0)


def _keras_hub_samplers():
    keras_hub = pytest.importorskip("keras_hub")
    s = keras_hub.samplers
    return {
        "greedy": lambda: s.GreedySampler(),
        "top_k": lambda: s.TopKSampler(k=2, seed=5),
        "beam": lambda: s.BeamSampler(num_beams=3),
    }


@hub_off_jax
@pytest.mark.parametrize("name", ["greedy", "top_k", "beam"])
def test_keras_hub_samplers_cached_and_uncached(small, name):
    make = _keras_hub_samplers()[name]
    kwargs = {k: v for k, v in GENERATE.items() if k != "seed"}
    # A fresh sampler per call: its seed generator starts over.
    cached = small.generate(sampler=make(), use_cache=True, **kwargs)
    uncached = small.generate(sampler=make(), use_cache=False, **kwargs)
    assert cached.shape == (200, 6) and cached.dtype == np.int32
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_array_equal(cached[:, :2], np.tile([3, 1], (200, 1)))
    # Texts end at their first pad (the end token), padding after it.
    generated = cached[:, 2:]
    after_end = np.cumsum(generated == 0, axis=1) - (generated == 0) > 0
    assert (generated[after_end] == 0).all()
    ranks = _ranks(small, cached)[:, 2:][~after_end]
    if name == "greedy":
        assert ranks.max() == 0
        np.testing.assert_array_equal(cached, _generate(small, "greedy"))
    if name == "top_k":
        assert ranks.max() == 1 and ranks.min() == 0


def test_keras_hub_sampler_errors(small):
    keras_hub = pytest.importorskip("keras_hub")
    with pytest.raises(ValueError, match="top_k.*constructor"):
        small.generate(sampler=keras_hub.samplers.TopKSampler(k=2), top_k=3)
    with pytest.raises(ValueError, match="ContrastiveSampler"):
        small.generate(sampler=keras_hub.samplers.ContrastiveSampler())


@hub_off_jax
def test_keras_hub_beam_sampler_returns_all_beams(small):
    keras_hub = pytest.importorskip("keras_hub")
    beams, scores = small.generate(
        prompt=[3, 1],
        num_samples=2,
        sampler=keras_hub.samplers.BeamSampler(num_beams=3, return_all_beams=True),
    )
    assert beams.shape == (2, 3, 6) and scores.shape == (2, 3)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first


def _fitted_vectorizer(length=6):
    vectorizer = keras.layers.TextVectorization(
        max_tokens=20, output_sequence_length=length
    )
    vectorizer.adapt(
        np.array(
            ["recipe for roasted soup | boil", "recipe for beans with soup"],
            dtype=object,
        )
    )
    return vectorizer


def test_tokenizer_travels_with_the_model(tmp_path):
    keras.utils.set_random_seed(2)
    vectorizer = _fitted_vectorizer()
    vocab = vectorizer.get_vocabulary()
    model = RecurrentLM(
        vocab_size=len(vocab), sequence_length=6, embedding_dim=4, units=8
    ).attach_tokenizer(vectorizer)
    loaded = assert_tokenizer_travels(model, vocab, tmp_path, num_samples=4, seed=0)
    np.testing.assert_array_equal(
        loaded.encode("soup with beans"), model.encode("soup with beans")
    )
    assert loaded.get_config()["tokenizer"] == model.get_config()["tokenizer"]


@not_on("jax", "keras-hub tokenizer assets: the same Python on every backend (test time)")
def test_keras_hub_tokenizer_travels_with_the_model(tmp_path):
    texts = ["Recipe for roasted soup . Boil it", "Recipe for beans with soup"]
    tokenizer, vocabulary = word_piece_tokenizer(texts, vocabulary_size=40)
    keras.utils.set_random_seed(2)
    model = RecurrentLM(
        vocab_size=len(vocabulary),
        sequence_length=8,
        embedding_dim=4,
        units=8,
        tokenizer=tokenizer,
    )
    assert_tokenizer_travels(model, vocabulary, tmp_path)


@pytest.fixture
def text_model():
    vectorizer = keras.layers.TextVectorization(
        vocabulary=["recipe", "for", "chicken", "soup", "with", "beans", "|"],
        output_sequence_length=6,
    )
    vocab = vectorizer.get_vocabulary()  # "", "[UNK]", then the words
    model = RecurrentLM(
        vocab_size=len(vocab), sequence_length=6, embedding_dim=4, units=8
    )
    return model.attach_tokenizer(vectorizer), vocab


def test_text_prompt_with_a_text_vectorization(text_model):
    model, vocab = text_model
    np.testing.assert_array_equal(model.encode("Recipe for"), [2, 3])
    texts = model.generate(prompt="Recipe FOR", num_samples=3, seed=0)
    assert isinstance(texts, list) and len(texts) == 3
    ids = model.generate(prompt=[2, 3], num_samples=3, seed=0)
    assert texts == model.decode(ids)
    for text in texts:
        assert text.startswith("recipe for")
        assert all(word in vocab for word in text.split())
    probs = model.next_token_probs("recipe for", top=4, temperature=0.5)
    assert len(probs) == 4 and all(word in vocab for word, _ in probs)
    values = [p for _, p in probs]
    assert values == sorted(values, reverse=True)
    logits = _np(model(np.array([[2, 3, 0]])))[0, 2] / 0.5
    expected = np.sort(np.exp(logits) / np.exp(logits).sum())[::-1][:4]
    np.testing.assert_allclose(values, expected, rtol=1e-5)


def test_save_load_round_trip(tmp_path):
    keras.utils.set_random_seed(1)
    model = _tiny(cell="gru", num_layers=2, dropout=0.1)
    loaded = assert_save_load_log_prob(
        model, ALL_SEQUENCES, tmp_path, atol=0.0, rtol=1e-6
    )
    assert loaded.tokenizer is None  # the tokenizer is not saved


def test_bad_inputs(tiny):
    with pytest.raises(ValueError, match=r"values must be in \[0, 3\)"):
        tiny.log_prob(np.array([[0, 1, 3]]))
    with pytest.raises(ValueError, match="integers"):
        tiny.log_prob(np.zeros((2, LENGTH), "float32"))
    with pytest.raises(ValueError, match="shape"):
        tiny.log_prob(np.zeros((2, LENGTH + 1), "int32"))
    with pytest.raises(ValueError, match="random.*greedy.*top_k.*top_p.*beam"):
        tiny.generate(sampler="nucleus")
    with pytest.raises(ValueError, match="top_p"):
        tiny.generate(sampler="top_p", top_p=1.5)
    with pytest.raises(ValueError, match="top_p"):
        tiny.generate(sampler=TopPSampler(0.5), top_p=0.2)
    with pytest.raises(ValueError, match="top_k"):
        tiny.generate(sampler="top_k", top_k=4)
    with pytest.raises(ValueError, match="num_beams"):
        tiny.generate(sampler="beam", num_beams=0)
    with pytest.raises(ValueError, match="temperature"):
        tiny.generate(temperature=0.0)
    with pytest.raises(ValueError, match="tokenizer"):
        tiny.generate(prompt="recipe for")
    with pytest.raises(ValueError, match="prompt.*vocab_size"):
        tiny.generate(prompt=[0, 5])
    with pytest.raises(ValueError, match="prompt.*integer"):
        tiny.generate(prompt=[0.5, 1.0])
    with pytest.raises(TypeError, match="num_samples= by keyword"):
        tiny.generate(4)
    with pytest.raises(ValueError, match="stop_token_ids"):
        tiny.generate(stop_token_ids=[3])
    with pytest.raises(ValueError, match="max_length"):
        tiny.generate(prompt=[0, 1, 2], max_length=2)
    with pytest.raises(ValueError, match="stop_token_ids.*auto"):
        tiny.generate(stop_token_ids="never")
    with pytest.raises(TypeError, match="get_vocabulary"):
        tiny.attach_tokenizer(object())
    with pytest.raises(ValueError, match="vocab_size=3"):
        tiny.attach_tokenizer(_fitted_vectorizer())
    with pytest.raises(ValueError, match="cell"):
        RecurrentLM(vocab_size=5, cell="rnn")
    with pytest.raises(ValueError, match="pad_token_id"):
        RecurrentLM(vocab_size=5, pad_token_id=5)
    with pytest.raises(ValueError, match="dropout"):
        RecurrentLM(vocab_size=5, dropout=1.0)
