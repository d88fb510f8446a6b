"""CausalDilatedConv1D, WaveNetResidualBlock and the mu-law ops."""

import keras
import numpy as np
import pytest

from keras_ar.layers.causal_dilated_conv1d import CausalDilatedConv1D
from keras_ar.layers.wavenet_block import WaveNetResidualBlock
from keras_ar.ops.mu_law import mu_law_decode, mu_law_encode
from tests.helpers import dependency_mask, run_layer_test, to_numpy


def _taps(x, t, kernel_size, dilation):
    """Inputs at t - (k-1) d, ..., t (zeros before the start), (B, k, C)."""
    taps = []
    for j in range(kernel_size):
        s = t - (kernel_size - 1 - j) * dilation
        taps.append(x[:, s] if s >= 0 else np.zeros_like(x[:, 0]))
    return np.stack(taps, axis=1)


# ----------------------------------------------------------------------
# CausalDilatedConv1D
def test_conv_layer_contract(tmp_path):
    x = np.random.normal(size=(2, 7, 3)).astype("float32")
    out = run_layer_test(
        CausalDilatedConv1D,
        {"filters": 4, "kernel_size": 3, "dilation_rate": 2},
        x,
        expected_output_shape=(2, 7, 4),
        tmp_path=tmp_path,
    )
    assert out.shape == (2, 7, 4)


def test_conv_without_bias():
    layer = CausalDilatedConv1D(4, 2, use_bias=False)
    assert tuple(layer(np.ones((1, 3, 2), "float32")).shape) == (1, 3, 4)
    assert [w.name for w in layer.weights] == ["kernel"]
    # No bias: zeros in, zeros out.
    np.testing.assert_array_equal(to_numpy(layer(np.zeros((1, 3, 2), "float32"))), 0)
    assert CausalDilatedConv1D.from_config(layer.get_config()).use_bias is False


@pytest.mark.parametrize("kernel_size,dilation", [(3, 2), (2, 5), (1, 3)])
def test_conv_causal_dependencies(kernel_size, dilation):
    """Output t moves with input s iff t - s is in {0, d, ..., (k-1) d}."""
    time, channels, filters = 9, 2, 3
    layer = CausalDilatedConv1D(
        filters, kernel_size, dilation, bias_initializer="random_normal"
    )
    x = np.random.normal(size=(1, time, channels)).astype("float32")
    dep = dependency_mask(lambda v: to_numpy(layer(v)), x)
    dep = dep.reshape(time, channels, time, filters).any(axis=(1, 3))
    lags = np.arange(time)[None, :] - np.arange(time)[:, None]  # t - s
    allowed = np.isin(lags, [j * dilation for j in range(kernel_size)])
    np.testing.assert_array_equal(dep, allowed)
    assert dep.any()


@pytest.mark.parametrize("kernel_size,dilation", [(3, 2), (2, 8)])
def test_conv_step_matches_call(kernel_size, dilation):
    layer = CausalDilatedConv1D(
        5, kernel_size, dilation, bias_initializer="random_normal"
    )
    x = np.random.normal(size=(2, 10, 3)).astype("float32")
    full = to_numpy(layer(x))
    for t in range(x.shape[1]):
        taps = keras.ops.convert_to_tensor(_taps(x, t, kernel_size, dilation))
        np.testing.assert_allclose(to_numpy(layer.step(taps)), full[:, t], atol=1e-5)


def test_conv_receptive_field_and_queue_size():
    layer = CausalDilatedConv1D(1, kernel_size=3, dilation_rate=4)
    assert layer.receptive_field == 9
    assert layer.queue_size == 8


def test_conv_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        CausalDilatedConv1D(4, kernel_size=0)
    with pytest.raises(ValueError, match="dilation_rate"):
        CausalDilatedConv1D(4, kernel_size=2, dilation_rate=0)
    with pytest.raises(ValueError, match="filters"):
        CausalDilatedConv1D(0, kernel_size=2)
    with pytest.raises(TypeError, match="kernel_size"):
        CausalDilatedConv1D(4, kernel_size=2.5)
    with pytest.raises(TypeError, match="use_bias"):
        CausalDilatedConv1D(4, kernel_size=2, use_bias="yes")
    layer = CausalDilatedConv1D(4, kernel_size=2)
    with pytest.raises(ValueError, match="rank 3"):
        layer(np.zeros((2, 5), "float32"))
    layer(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(ValueError, match="taps"):
        layer.step(keras.ops.zeros((2, 3, 3)))


# ----------------------------------------------------------------------
# WaveNetResidualBlock
def test_block_layer_contract(tmp_path):
    x = np.random.normal(size=(2, 6, 4)).astype("float32")
    run_layer_test(
        WaveNetResidualBlock,
        {"residual_channels": 4, "skip_channels": 5, "dilation_rate": 2},
        x,
        expected_output_shape=[(2, 6, 4), (2, 6, 5)],
        tmp_path=tmp_path,
    )


def test_block_layer_contract_conditioned(tmp_path):
    x = np.random.normal(size=(2, 6, 4)).astype("float32")
    h = np.eye(3, dtype="float32")[[0, 2]]
    run_layer_test(
        WaveNetResidualBlock,
        {
            "residual_channels": 4,
            "skip_channels": 5,
            "kernel_size": 3,
            "dilation_rate": 1,
            "global_conditioning_channels": 3,
        },
        [x, h],
        expected_output_shape=[(2, 6, 4), (2, 6, 5)],
        tmp_path=tmp_path,
    )


def test_block_without_residual_projection():
    block = WaveNetResidualBlock(4, 5, use_residual_projection=False)
    x = np.random.normal(size=(2, 6, 4)).astype("float32")
    residual, skip = block(x)
    np.testing.assert_allclose(to_numpy(residual), x)
    assert tuple(skip.shape) == (2, 6, 5)
    assert len(block.trainable_weights) == 4  # conv kernel/bias, skip 1x1


def test_block_causal_dependencies():
    """Both outputs at t see the inputs at t, t - d, ..., t - (k-1) d only."""
    time, channels, kernel_size, dilation = 10, 3, 2, 3
    block = WaveNetResidualBlock(channels, 2, kernel_size, dilation)

    def fn(v):
        residual, skip = block(v)
        return np.concatenate([to_numpy(residual), to_numpy(skip)], axis=-1)

    x = np.random.normal(size=(1, time, channels)).astype("float32")
    dep = dependency_mask(fn, x).reshape(time, channels, time, channels + 2)
    dep = dep.any(axis=(1, 3))
    lags = np.arange(time)[None, :] - np.arange(time)[:, None]
    np.testing.assert_array_equal(dep, np.isin(lags, [0, dilation]))


def test_block_conditioning_moves_every_step():
    block = WaveNetResidualBlock(3, 2, global_conditioning_channels=2)
    x = np.random.normal(size=(1, 5, 3)).astype("float32")
    a = to_numpy(block(x, np.array([[1.0, 0.0]], "float32"))[1])
    b = to_numpy(block(x, np.array([[0.0, 1.0]], "float32"))[1])
    assert (np.abs(a - b).max(axis=-1) > 1e-6).all()


@pytest.mark.parametrize("conditioned", [False, True])
def test_block_step_matches_call(conditioned):
    kernel_size, dilation = 3, 2
    block = WaveNetResidualBlock(
        4,
        5,
        kernel_size,
        dilation,
        global_conditioning_channels=2 if conditioned else None,
    )
    x = np.random.normal(size=(2, 9, 4)).astype("float32")
    h = np.random.normal(size=(2, 2)).astype("float32") if conditioned else None
    args = (x, h) if conditioned else (x,)
    residual, skip = (to_numpy(o) for o in block(*args))
    for t in range(x.shape[1]):
        taps = keras.ops.convert_to_tensor(_taps(x, t, kernel_size, dilation))
        step_args = (taps, keras.ops.convert_to_tensor(h)) if conditioned else (taps,)
        r, s = block.step(*step_args)
        np.testing.assert_allclose(to_numpy(r), residual[:, t], atol=1e-5)
        np.testing.assert_allclose(to_numpy(s), skip[:, t], atol=1e-5)


def test_block_bad_arguments():
    with pytest.raises(ValueError, match="residual_channels"):
        WaveNetResidualBlock(0, 4)
    with pytest.raises(ValueError, match="global_conditioning_channels"):
        WaveNetResidualBlock(4, 4, global_conditioning_channels=0)
    with pytest.raises(TypeError, match="use_residual_projection"):
        WaveNetResidualBlock(4, 4, use_residual_projection=1)
    block = WaveNetResidualBlock(4, 4)
    with pytest.raises(ValueError, match="residual_channels=4"):
        block(np.zeros((1, 5, 3), "float32"))
    with pytest.raises(ValueError, match="rank 3"):
        block(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match="conditioning"):
        block(np.zeros((1, 5, 4), "float32"), np.zeros((1, 2), "float32"))
    conditioned = WaveNetResidualBlock(4, 4, global_conditioning_channels=2)
    with pytest.raises(ValueError, match="conditioning"):
        conditioned(np.zeros((1, 5, 4), "float32"))
    with pytest.raises(ValueError, match="global_conditioning_channels=2"):
        conditioned(np.zeros((1, 5, 4), "float32"), np.zeros((1, 3), "float32"))


# ----------------------------------------------------------------------
# mu-law
@pytest.mark.parametrize("levels", [2, 16, 256])
def test_mu_law_levels_round_trip(levels):
    q = np.arange(levels)
    decoded = mu_law_decode(q, levels=levels)
    assert isinstance(decoded, np.ndarray) and decoded.dtype == np.float32
    assert np.all(np.diff(decoded) > 0) and decoded.min() >= -1 and decoded.max() <= 1
    np.testing.assert_array_equal(mu_law_encode(decoded, levels=levels), q)


def test_mu_law_audio_round_trip():
    levels = 256
    audio = np.linspace(-1.0, 1.0, 2001).astype("float32")
    q = mu_law_encode(audio, levels=levels)
    assert q.dtype == np.int32 and q.min() == 0 and q.max() == levels - 1
    assert np.all(np.diff(q) >= 0)  # monotone
    restored = mu_law_decode(q, levels=levels)
    # The error is at most the gap between neighbouring levels there.
    centres = mu_law_decode(np.arange(levels), levels=levels)
    gaps = np.diff(centres)
    bound = gaps[np.clip(q, 0, levels - 2)] + gaps[np.clip(q - 1, 0, levels - 2)]
    assert np.all(np.abs(restored - audio) <= bound)
    # mu-law is finer near zero than a linear quantizer: small errors there.
    small = np.abs(audio) < 0.01
    assert np.abs(restored - audio)[small].max() < 1e-3
    # Out of range values are clipped.
    np.testing.assert_array_equal(mu_law_encode(np.array([-3.0, 3.0])), [0, 255])


def test_mu_law_backend_tensors():
    audio = keras.ops.convert_to_tensor(np.array([-0.5, 0.0, 0.25], "float32"))
    q = mu_law_encode(audio, levels=64)
    assert not isinstance(q, np.ndarray)
    np.testing.assert_array_equal(
        to_numpy(q), mu_law_encode(np.array([-0.5, 0.0, 0.25]), levels=64)
    )
    restored = mu_law_decode(q, levels=64)
    assert not isinstance(restored, np.ndarray)
    np.testing.assert_allclose(to_numpy(restored), [-0.5, 0.0, 0.25], atol=0.05)


def test_mu_law_bad_levels():
    with pytest.raises(ValueError, match="levels"):
        mu_law_encode(np.zeros(3), levels=1)
    with pytest.raises(TypeError, match="levels"):
        mu_law_decode(np.zeros(3, "int32"), levels=2.0)
