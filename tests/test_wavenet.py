"""WaveNet: likelihood, causality, receptive field, cached generation."""

import itertools

import keras
import numpy as np
import pytest
from scipy import stats

from keras_ar.models.wavenet import WaveNet
from tests.helpers import take_turns, to_numpy
from tests.model_checks import assert_save_load_log_prob


def _sharpen(model, seed=0, scale=3.0):
    """Re-draws the output layer so the model is far from uniform."""
    rng = np.random.default_rng(seed)
    for weight in (model.head_logits.kernel, model.head_logits.bias):
        shape = tuple(weight.shape)
        weight.assign(rng.normal(size=shape).astype("float32") * scale)
    return model


def _tiny(**kwargs):
    config = dict(levels=3, residual_channels=4, skip_channels=6, dilations=[1, 2])
    config.update(kwargs)
    return _sharpen(WaveNet(**config))


def _all_sequences(levels, length):
    return np.array(list(itertools.product(range(levels), repeat=length)), "int32")


def _logits(model, x, labels=None):
    return to_numpy(model(model.pack_inputs(x, labels)))


# ----------------------------------------------------------------------
def test_structure_and_config():
    model = WaveNet(levels=8, residual_channels=4, skip_channels=5, num_stacks=2)
    assert model.dilations == [2**i for i in range(10)] * 2
    assert model.receptive_field == 2 * 1023 + 1
    assert model.event_shape == (None,)
    small = WaveNet(
        levels=8, kernel_size=3, dilations=[1, 3], residual_channels=2, skip_channels=3
    )
    assert small.receptive_field == 1 + 2 * 1 + 2 * 3
    config = small.get_config()
    clone = WaveNet.from_config(config)
    assert clone.get_config() == config
    assert len(clone.weights) == len(small.weights) > 0  # built in __init__
    logits = _logits(small, np.zeros((2, 5), "int32"))
    assert logits.shape == (2, 5, 8)


def test_causality_and_receptive_field():
    """Logits at t move with x_s iff t - R <= s <= t - 1."""
    model = _tiny(levels=4, dilations=[1, 2, 4])
    receptive_field = model.receptive_field
    assert receptive_field == 8
    time = 13
    x = np.random.default_rng(0).integers(0, 4, size=(1, time)).astype("int32")
    base = _logits(model, x)
    dep = np.zeros((time, time), bool)
    for s in range(time):
        moved = x.copy()
        moved[0, s] = (moved[0, s] + 1) % 4
        dep[s] = np.abs(_logits(model, moved) - base).max(axis=-1)[0] > 1e-6
    lag = np.arange(time)[None, :] - np.arange(time)[:, None]  # t - s
    np.testing.assert_array_equal(dep, (lag >= 1) & (lag <= receptive_field))


def test_label_conditions_every_step():
    model = _tiny(num_classes=2)
    x = np.zeros((1, 6), "int32")
    a = _logits(model, x, np.array([0]))
    b = _logits(model, x, np.array([1]))
    assert (np.abs(a - b).max(axis=-1) > 1e-6).all()


def test_probabilities_sum_to_one():
    model = _tiny(sequence_length=3)
    x = _all_sequences(3, 3)
    log_prob = model.log_prob(x)
    np.testing.assert_allclose(np.exp(log_prob).sum(), 1.0, atol=1e-5)
    # The sharpened model is far from uniform (so the check is not vacuous).
    assert np.exp(log_prob).max() > 3.0 / 27


def test_probabilities_sum_to_one_per_label():
    model = _tiny(num_classes=3)
    x = _all_sequences(3, 3)
    per_label = []
    for label in range(3):
        log_prob = model.log_prob(x, labels=np.full((len(x),), label))
        np.testing.assert_allclose(np.exp(log_prob).sum(), 1.0, atol=1e-5)
        per_label.append(log_prob)
    assert np.abs(per_label[0] - per_label[1]).max() > 1e-3


def test_generated_frequencies_match_log_prob():
    """Chi-square of 6000 samples against exp(log_prob) over all 27 sequences."""
    model = _tiny(num_classes=2)
    num_samples, label = 6000, 1
    samples = model.generate(num_samples, length=3, seed=7, labels=label)
    assert samples.shape == (num_samples, 3) and samples.dtype == np.int32
    x = _all_sequences(3, 3)
    probs = np.exp(model.log_prob(x, labels=np.full((len(x),), label)))
    codes = samples @ np.array([9, 3, 1])
    observed = np.bincount(codes, minlength=27).astype(float)
    expected = probs / probs.sum() * num_samples
    # Pool the rare sequences so that every cell expects >= 5 counts.
    rare = expected < 5
    if rare.any():
        observed = np.append(observed[~rare], observed[rare].sum())
        expected = np.append(expected[~rare], expected[rare].sum())
    _, p_value = stats.chisquare(observed, expected)
    assert p_value > 1e-3, p_value
    # A wrong model must fail the same test: the uniform distribution.
    uniform = np.full(27, num_samples / 27)
    assert stats.chisquare(np.bincount(codes, minlength=27), uniform)[1] < 1e-3


def test_cached_step_matches_full_logits():
    """The queue-based step gives the full pass's logits at every t."""
    model = _tiny(levels=5, kernel_size=3, dilations=[1, 4, 16], num_classes=2)
    time = 9  # dilation 16 > length: those taps read the zero padding
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, size=(2, time)).astype("int32")
    labels = np.array([0, 1], "int32")
    full = _logits(model, x, labels)
    state = model._generation_state(x, labels, use_cache=True)
    state, _ = model._prepare_loop(state, 0, use_cache=True)
    for i in range(time):
        logits, queues = model._cached_logits(keras.ops.convert_to_tensor(i), state)
        state = {**state, "queues": queues}
        np.testing.assert_allclose(to_numpy(logits), full[:, i], atol=1e-5)


@pytest.mark.parametrize(
    *take_turns(
        "kernel_size,dilations,use_prefix",
        [(2, [1, 2, 8, 32], False), (3, [1, 4], True), (2, [1, 16], True)],
    )
)
def test_cached_equals_uncached(kernel_size, dilations, use_prefix):
    model = WaveNet(
        levels=6,
        residual_channels=4,
        skip_channels=6,
        kernel_size=kernel_size,
        dilations=dilations,
        num_classes=2,
    )
    _sharpen(model, scale=1.0)
    length, num_samples = 12, 4
    labels = np.array([0, 1, 1, 0])
    prefix = None
    if use_prefix:
        prefix = np.random.default_rng(3).integers(0, 6, size=(num_samples, 5))
    kwargs = dict(length=length, labels=labels, prefix=prefix, temperature=0.8)
    cached = model.generate(num_samples, seed=11, use_cache=True, **kwargs)
    uncached = model.generate(num_samples, seed=11, use_cache=False, **kwargs)
    np.testing.assert_array_equal(cached, uncached)
    assert cached.shape == (num_samples, length)
    if use_prefix:
        np.testing.assert_array_equal(cached[:, :5], prefix)
    # Same seed, same samples; another seed, other samples.
    again = model.generate(num_samples, seed=11, use_cache=True, **kwargs)
    np.testing.assert_array_equal(cached, again)
    other = model.generate(num_samples, seed=12, use_cache=True, **kwargs)
    assert (other != cached).any()


def test_fit_lowers_loss_and_reports_nll():
    model = WaveNet(levels=4, residual_channels=8, skip_channels=8, dilations=[1, 2])
    # A deterministic pattern: x_t = (x_{t-1} + 1) mod 4 from a random start.
    start = np.random.default_rng(0).integers(0, 4, size=(32, 1))
    x = ((start + np.arange(10)) % 4).astype("int32")
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    before = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(
        before, -model.log_prob(x).mean() / x.shape[1], rtol=1e-4
    )
    history = model.fit(x, epochs=15, batch_size=32, verbose=0)
    after = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    assert after["loss"] < 0.5 * before
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_allclose(
        after["loss"], -model.log_prob(x).mean() / x.shape[1], rtol=1e-4
    )
    np.testing.assert_allclose(
        after["bits_per_dim"], after["loss"] / np.log(2), rtol=1e-4
    )


def test_save_and_load(tmp_path):
    model = _tiny(num_classes=2, sequence_length=5)
    x = np.random.default_rng(0).integers(0, 3, size=(4, 5)).astype("int32")
    labels = np.array([0, 1, 0, 1])
    assert_save_load_log_prob(model, x, tmp_path, atol=1e-6, labels=labels)


def test_bad_inputs():
    with pytest.raises(ValueError, match="dilations"):
        WaveNet(levels=4, dilations=[])
    with pytest.raises(ValueError, match="dilations"):
        WaveNet(levels=4, dilations=[1, 0])
    with pytest.raises(ValueError, match="levels"):
        WaveNet(levels=1)
    with pytest.raises(ValueError, match="sequence_length"):
        WaveNet(levels=4, sequence_length=0)
    with pytest.raises(ValueError, match="kernel_size"):
        WaveNet(levels=4, kernel_size=0)
    model = WaveNet(levels=4, residual_channels=2, skip_channels=2, dilations=[1])
    with pytest.raises(ValueError, match="integers"):
        model.log_prob(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.log_prob(np.full((2, 3), 4))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 3, 1), "int32"))
    with pytest.raises(ValueError, match="labels"):
        model.log_prob(np.zeros((2, 3), "int32"), labels=[0, 1])
    with pytest.raises(ValueError, match="length"):
        model.generate(2)
    with pytest.raises(ValueError, match="length"):
        model.generate(2, length=0)
    with pytest.raises(ValueError, match="prefix"):
        model.generate(2, length=3, prefix=np.zeros((2, 4), "int32"))
    with pytest.raises(ValueError, match="prefix"):
        model.generate(2, length=3, prefix=np.full((2, 2), 9))
    with pytest.raises(ValueError, match="prefix"):
        model.generate(2, length=3, prefix=np.zeros((3, 2), "int32"))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(2, length=3, temperature=0.0)
    fixed = WaveNet(
        levels=4, sequence_length=5, residual_channels=2, skip_channels=2, dilations=[1]
    )
    with pytest.raises(ValueError, match="sequence_length=5"):
        fixed.generate(2, length=6)
    with pytest.raises(ValueError, match="shape"):
        fixed.log_prob(np.zeros((2, 6), "int32"))
    conditional = WaveNet(
        levels=4, residual_channels=2, skip_channels=2, dilations=[1], num_classes=2
    )
    with pytest.raises(ValueError, match="labels"):
        conditional.generate(2, length=3)
    with pytest.raises(ValueError, match="labels"):
        conditional.generate(2, length=3, labels=[0, 2])
