"""Distribution-level checks shared by the model tests.

These are the contract of every keras_ar model: exp(log_prob) is a proper
distribution over all inputs of a shape, and `generate` samples from it.
"""

import itertools

import keras
import numpy as np
import pytest
from scipy import stats


def all_inputs(event_shape, levels):
    """Every int array of `event_shape` with values in [0, levels)."""
    size = int(np.prod(event_shape))
    grid = np.array(list(itertools.product(range(levels), repeat=size)), "int32")
    return grid.reshape((-1,) + tuple(event_shape))


def redraw_weights(layers, scale=2.0, seed=0):
    """Replaces the weights of `layers` with large random values, so that
    the model's distribution is far from uniform (a sum-to-one test on a
    near-uniform model would pass for the wrong reasons). Trainable weights
    only: the others are structure (MADE's masks, its mask counter)."""
    rng = np.random.default_rng(seed)
    for layer in layers:
        for w in layer.trainable_weights:
            w.assign(rng.normal(0.0, scale, size=tuple(w.shape)).astype("float32"))


def assert_normalized(model, event_shape, labels=None, atol=1e-4, min_spread=2.0):
    """exp(log_prob) over all inputs sums to 1 and is not near-uniform.

    Returns the probabilities (for sampling checks)."""
    x = all_inputs(event_shape, model.levels)
    kwargs = {} if labels is None else {"labels": np.full((len(x),), labels)}
    log_prob = model.log_prob(x, **kwargs)
    assert np.all(np.isfinite(log_prob))
    probs = np.exp(log_prob)
    np.testing.assert_allclose(probs.sum(), 1.0, atol=atol)
    spread = probs.max() / max(probs.min(), 1e-300)
    assert spread > min_spread, f"distribution too close to uniform ({spread:.2f})"
    return x, probs


def assert_samples_follow(samples, inputs, probs, min_p=1e-3):
    """Chi-square test of sample frequencies against `probs` over `inputs`."""
    index = {tuple(v.reshape(-1)): i for i, v in enumerate(inputs)}
    counts = np.zeros(len(inputs))
    for s in samples:
        counts[index[tuple(s.reshape(-1))]] += 1
    expected = probs / probs.sum() * len(samples)
    # Pool the rare cells so each expected count is >= 5 (chi-square validity).
    order = np.argsort(expected)
    obs_pooled, exp_pooled, acc_o, acc_e = [], [], 0.0, 0.0
    for i in order:
        acc_o += counts[i]
        acc_e += expected[i]
        if acc_e >= 5:
            obs_pooled.append(acc_o)
            exp_pooled.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0 and exp_pooled:
        obs_pooled[-1] += acc_o
        exp_pooled[-1] += acc_e
    assert len(exp_pooled) >= 3, "too few cells for a chi-square test"
    _, p = stats.chisquare(obs_pooled, exp_pooled)
    assert p > min_p, f"samples do not follow exp(log_prob): chi-square p={p:.2e}"
    return p


def padded_texts(vocab_size, length):
    """Every valid right-padded text (0 is the pad, the end of a text): k
    tokens in `[1, vocab_size)`, then pads, for k = 0..length."""
    return np.array(
        [
            list(words) + [0] * (length - k)
            for k in range(length + 1)
            for words in itertools.product(range(1, vocab_size), repeat=k)
        ],
        "int32",
    )


def counting_texts(n=64, length=8):
    """`n` padded texts that count up modulo 9 (tokens 1..9) from a random
    start and end at random: structure that a small language model learns
    in a few epochs."""
    rng = np.random.default_rng(0)
    starts = rng.integers(1, 10, size=(n, 1))
    x = (starts + np.arange(length)) % 9 + 1
    x[rng.random((n, length)).cumsum(1) > 5.0] = 0
    return x


def assert_lm_fit_lowers_loss(model, x, learning_rate, epochs, factor):
    """Adam at `learning_rate` for `epochs` of one batch each brings the
    loss below `factor` times the first epoch's, and the dims-weighted
    perplexity is exp(loss). Returns the history."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    history = model.fit(x, epochs=epochs, batch_size=len(x), verbose=0).history
    assert history["loss"][-1] < factor * history["loss"][0]
    np.testing.assert_allclose(
        history["perplexity"], np.exp(history["loss"]), rtol=1e-4
    )
    return history


def assert_padded_texts_follow(model, texts, num_samples):
    """`num_samples` texts of a language model with a pad (seed 0): int32,
    some but not all ended, each a valid padded text (one of `texts`: words,
    the end, then pads) and together following exp(log_prob) over `texts`;
    the uncached path draws the same. Returns the samples."""
    samples = model.generate(num_samples=num_samples, seed=0)
    assert samples.shape == (num_samples, texts.shape[1])
    assert samples.dtype == np.int32
    ended = (samples == 0).any(axis=1)
    assert 0 < ended.mean() < 1
    assert_samples_follow(samples, texts, np.exp(model.log_prob(texts)))
    np.testing.assert_array_equal(
        model.generate(num_samples=num_samples, seed=0, use_cache=False), samples
    )
    return samples


def assert_fit_lowers_loss(model, x, epochs=6, batch_size=16, lr=1e-2, **fit_kwargs):
    """A few epochs lower the loss, and the loss equals -log_prob / dims."""
    model.compile(optimizer=keras.optimizers.Adam(lr))
    history = model.fit(x, epochs=epochs, batch_size=batch_size, verbose=0, **fit_kwargs)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses
    assert "bits_per_dim" in history.history
    np.testing.assert_allclose(
        history.history["bits_per_dim"][-1] * np.log(2.0), losses[-1], rtol=1e-4
    )
    # The training loss is the log-likelihood per dimension that log_prob gives.
    data = x["inputs"] if isinstance(x, dict) else x
    labels = {} if not isinstance(x, dict) else {"labels": x["labels"]}
    evaluated = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
    nll = -model.log_prob(data, **labels).sum() / data.size
    np.testing.assert_allclose(evaluated["loss"], nll, rtol=1e-4)
    return history


def assert_save_load_log_prob(model, x, tmp_path, atol=1e-5, rtol=1e-7, **kwargs):
    """A `.keras` round trip keeps the config and the log-likelihoods
    (within `atol` and `rtol`; `kwargs` go to `log_prob`)."""
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        loaded.log_prob(x, **kwargs), model.log_prob(x, **kwargs), atol=atol, rtol=rtol
    )
    if model.compiled:
        # The compile state comes back too: the loaded model evaluates and
        # trains on with the default NLL loss, no compile() call needed.
        assert loaded.compiled and loaded._default_loss == model._default_loss
        data = x if not kwargs else {"inputs": x, "labels": kwargs["labels"]}
        loss = loaded.evaluate(data, verbose=0, return_dict=True)["loss"]
        np.testing.assert_allclose(loss, -model.log_prob(x, **kwargs).sum() / x.size, rtol=1e-4)
    return loaded


def assert_fit_and_save_load_3x3(model, tmp_path):
    """For a `(3, 3, 1)` model of 8 levels: a few epochs on images around
    level 2 (a rounded normal, which a logistic mixture fits quickly) lower
    the loss, and a `.keras` round trip keeps the log-likelihoods."""
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(2.0, 1.0, size=(32, 3, 3, 1)).round(), 0, 7).astype("int32")
    assert_fit_lowers_loss(model, x, epochs=4, batch_size=16, lr=1e-2)
    assert_save_load_log_prob(model, x, tmp_path)


def assert_normalized_and_sampled(
    model, image_shape, seed, num_samples=3000, cold=None
):
    """`assert_normalized`, then `num_samples` int32 samples of `image_shape`
    follow exp(log_prob); with `cold` (a temperature near 0), cold samples
    collapse onto fewer distinct images."""
    inputs, probs = assert_normalized(model, image_shape)
    samples = model.generate(num_samples=num_samples, seed=seed)
    assert samples.shape == (num_samples,) + tuple(image_shape)
    assert samples.dtype == np.int32
    assert_samples_follow(samples, inputs, probs)
    if cold is not None:
        colder = model.generate(num_samples=num_samples, seed=seed, temperature=cold)
        distinct = lambda s: len({v.tobytes() for v in s})  # noqa: E731
        assert distinct(colder) < distinct(samples)
    return inputs, probs, samples


def assert_cached_equals_uncached(model, num_samples, prefix_rows=1, **kwargs):
    """The cached and the reference path draw the same samples for a seed,
    another seed draws others; with `prefix_rows`, both complete a partial
    image alike and keep its rows. Returns the reference samples."""
    a = model.generate(num_samples=num_samples, seed=7, use_cache=False, **kwargs)
    b = model.generate(num_samples=num_samples, seed=7, use_cache=True, **kwargs)
    np.testing.assert_array_equal(a, b)
    other = model.generate(num_samples=num_samples, seed=8, **kwargs)
    assert not np.array_equal(b, other)
    if prefix_rows:
        # Completing a partial image keeps the given rows, both paths alike.
        prefix = a[:, :prefix_rows]
        c = model.generate(
            num_samples=num_samples, seed=9, use_cache=True, prefix=prefix, **kwargs
        )
        d = model.generate(
            num_samples=num_samples, seed=9, use_cache=False, prefix=prefix, **kwargs
        )
        np.testing.assert_array_equal(c, d)
        np.testing.assert_array_equal(c[:, :prefix_rows], prefix)
    return a


def stripes(rng, n=64, size=4, levels=4):
    """`n` images of vertical stripes `(n, size, size, 1)`: structure that a
    small model learns in a few epochs."""
    columns = rng.integers(0, levels, size=(n, 1, size, 1))
    return np.tile(columns, (1, size, 1, 1)).astype("int32")


def assert_rejects_bad_images(model, levels, out_of_range=None, not_int=None):
    """`log_prob` refuses values out of `[0, levels)`, float images and a
    wrong shape; `generate` refuses no samples, a zero temperature and a
    prefix of the wrong shape (`model.event_shape` of at least 2 x 2
    pixels). The first two messages match `out_of_range` and `not_int`
    (regular expressions)."""
    height, width, channels = model.image_shape
    with pytest.raises(ValueError, match=out_of_range or rf"\[0, {levels}\)"):
        model.log_prob(np.full((1, height, width, channels), levels))
    with pytest.raises(ValueError, match=not_int or "dtype float"):
        model.log_prob(np.zeros((1, height, width, channels), "float32"))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((1, height, width + 1, channels), "int32"))
    with pytest.raises(ValueError, match="num_samples"):
        model.generate(num_samples=0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(temperature=0.0)
    with pytest.raises(ValueError, match="prefix"):
        model.generate(
            num_samples=2, prefix=np.zeros((2, height + 1, width, channels), "int32")
        )


# -- language models with a tokenizer ------------------------------------------
def word_piece_tokenizer(texts, vocabulary_size):
    """A keras-hub WordPiece tokenizer (lowercase, "[PAD]" and "[UNK]"
    reserved) fitted on `texts`, and its vocabulary; skips the test where
    keras-hub is missing."""
    keras_hub = pytest.importorskip("keras_hub")
    import tensorflow as tf  # keras-hub's vocabulary tools read tf.data

    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(texts),
        vocabulary_size=vocabulary_size,
        lowercase=True,
        reserved_tokens=["[PAD]", "[UNK]"],
    )
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocabulary, lowercase=True
    )
    return tokenizer, vocabulary


def assert_tokenizer_travels(model, vocabulary, tmp_path, num_samples=3, seed=1):
    """A `.keras` round trip, with no side files, brings the tokenizer back:
    the same `vocabulary`, and the same continuations of a text prompt.
    Returns the loaded model."""
    path = str(tmp_path / "lm.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [str(w) for w in loaded.tokenizer.get_vocabulary()] == list(vocabulary)
    texts = loaded.generate("Recipe for roasted", num_samples=num_samples, seed=seed)
    assert texts == model.generate(
        "Recipe for roasted", num_samples=num_samples, seed=seed
    )
    assert all(t.startswith("recipe for roasted") for t in texts)
    return loaded
