"""PyTorch's own paths in a training step, each against the Keras code it
replaces there:

- `keras_ar.backend.fused_rnn.run_rnn`: a `keras.layers.RNN` of a plain LSTM
  or GRU cell runs as one `torch.lstm` / `torch.gru` call, with the outputs,
  states and gradients of Keras' own loop; every case that kernel does not
  compute runs Keras' loop;
- `keras_ar.backend.conv.conv`: channels-last convolutions as views, with
  the bias inside, equal to `ops.conv` plus the bias with their gradients,
  and returning contiguous tensors;
- the categorical log-likelihood's gather equals the one-hot product;
- `keras_ar.backend.constants.dense_forward` (a `Dense` as one `addmm`)
  equals the layer's call, with its gradients."""

import keras
import numpy as np
import pytest

from keras_ar.backend.conv import conv
from keras_ar.backend.fused_rnn import run_rnn
from keras_ar.ops.categorical import categorical_log_prob
from tests.helpers import only_on

pytestmark = only_on("torch", "PyTorch's paths; elsewhere these are the Keras calls themselves")

CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}


def _rnn(kind, rng, cell_kwargs=None, **rnn_kwargs):
    """A built RNN with non-trivial weights, and an input batch."""
    x = rng.normal(size=(3, 7, 5)).astype("float32")
    rnn_kwargs = dict(dict(return_sequences=True, return_state=True), **rnn_kwargs)
    rnn = keras.layers.RNN(CELLS[kind](4, **(cell_kwargs or {})), **rnn_kwargs)
    rnn.build(x.shape)
    rnn.set_weights([w + rng.normal(size=w.shape).astype("float32") for w in rnn.get_weights()])
    return rnn, x


def _count_cell_calls(rnn, monkeypatch):
    calls = []
    original = rnn.cell.call
    monkeypatch.setattr(rnn.cell, "call", lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def _numpy(outputs):
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [keras.ops.convert_to_numpy(o) for o in outputs]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("return_sequences, return_state", [(True, True), (False, False)])
def test_fused_equals_keras_loop_with_gradients(kind, return_sequences, return_state, monkeypatch):
    import torch

    rng = np.random.default_rng(0)
    rnn, x = _rnn(kind, rng, return_sequences=return_sequences, return_state=return_state)
    results, grads = [], []
    for run in (run_rnn, lambda layer, xt: layer(xt)):
        calls = _count_cell_calls(rnn, monkeypatch)
        xt = torch.tensor(x, requires_grad=True)
        for w in rnn.trainable_weights:
            w.value.grad = None
        outputs = run(rnn, xt)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        # A weighted sum, so that every output and state gets its own gradient.
        loss = sum((o * torch.linspace(-1, 2, o.numel()).reshape(o.shape)).sum() for o in outputs)
        loss.backward()
        results.append(_numpy([o.detach() for o in outputs]))
        grads.append([xt.grad.numpy()] + [w.value.grad.numpy().copy() for w in rnn.trainable_weights])
        if run is run_rnn:
            assert not calls, "the cell ran step by step: the fused path was not taken"
    assert len(results[0]) == len(results[1]) == (1 + (2 if kind == "lstm" else 1) * return_state)
    for a, b in zip(*results):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kind, cell_kwargs, rnn_kwargs, training",
    [
        ("lstm", {"activation": "relu"}, {}, False),
        ("lstm", {"use_bias": False}, {}, False),
        ("gru", {"reset_after": False}, {}, False),
        ("lstm", {}, {"go_backwards": True}, False),
        ("gru", {"recurrent_dropout": 0.5, "seed": 1}, {}, True),
        ("lstm", {"dtype": "mixed_float16"}, {}, False),  # half precision on the CPU
    ],
    ids=["activation", "no-bias", "reset-before", "backwards", "dropout", "float16"],
)
def test_other_cases_run_keras_loop(kind, cell_kwargs, rnn_kwargs, training, monkeypatch):
    rng = np.random.default_rng(1)
    rnn, x = _rnn(kind, rng, cell_kwargs, **rnn_kwargs)
    calls = _count_cell_calls(rnn, monkeypatch)
    a = _numpy(run_rnn(rnn, keras.ops.convert_to_tensor(x), training))
    assert calls, "a case the fused kernel does not compute did not run the cell"
    if training:
        # The dropout masks come from the cell's seed generator, which moved
        # on; outside training the same cell has no dropout and fuses.
        del calls[:]
        a = _numpy(run_rnn(rnn, keras.ops.convert_to_tensor(x), False))
        assert not calls
    b = _numpy(rnn(x))
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_categorical_gather_equals_one_hot_product():
    import torch

    rng = np.random.default_rng(3)
    logits = torch.tensor(rng.normal(0, 5, (4, 6, 9)).astype("float32"))
    x = rng.integers(-2, 11, (4, 6)).astype("int32")  # some outside [0, 9)
    log_p = torch.log_softmax(logits, -1).numpy()
    one_hot = np.eye(9, dtype="float32")[np.clip(x, 0, 8)] * ((x >= 0) & (x < 9))[..., None]
    expected = (log_p * one_hot).sum(-1)
    got = keras.ops.convert_to_numpy(categorical_log_prob(logits, x))
    np.testing.assert_array_equal(got, expected)
    assert np.all(got[(x < 0) | (x >= 9)] == 0) and np.all(got[(x >= 0) & (x < 9)] < 0)


@pytest.mark.parametrize(
    "input_shape, kernel_shape, strides, padding, dilation",
    [
        ((2, 9, 10, 3), (3, 3, 3, 4), 1, "same", 1),
        ((2, 9, 10, 3), (2, 3, 3, 4), 1, "same", 2),  # uneven padding
        ((2, 9, 10, 3), (2, 2, 3, 4), 2, "valid", 1),
        ((2, 9, 10, 3), (3, 2, 3, 4), 1, "valid", (2, 1)),
        ((2, 11, 3), (2, 3, 4), 1, "valid", 4),  # WaveNet's causal convolution
        ((2, 11, 3), (3, 3, 4), 1, "same", 1),  # the Row LSTM's state convolution
        ((2, 11, 3), (4, 3, 4), 1, "same", 1),
    ],
)
def test_channels_last_conv_equals_keras_conv(input_shape, kernel_shape, strides, padding, dilation):
    import torch

    rng = np.random.default_rng(5)
    x = rng.normal(size=input_shape).astype("float32")
    w = rng.normal(size=kernel_shape).astype("float32")
    b = rng.normal(size=kernel_shape[-1:]).astype("float32")

    def keras_conv(x, w, bias, **kwargs):
        return keras.ops.conv(x, w, data_format="channels_last", **kwargs) + bias

    results = []
    for run in (conv, keras_conv):
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        y = run(xt, wt, bias=bt, strides=strides, padding=padding, dilation_rate=dilation)
        (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        results.append((y.detach(), xt.grad, wt.grad, bt.grad))
    ours, keras_ = results
    assert ours[0].shape == keras_[0].shape
    # The speed-up is that no layout copy is made, in or out.
    assert ours[0].is_contiguous()
    for a, b in zip(ours, keras_):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation, input_shape", [(None, (6, 5)), ("relu", (2, 3, 5))])
def test_dense_forward_equals_the_layer_with_gradients(activation, input_shape):
    import torch

    from keras_ar.backend.constants import dense_forward

    rng = np.random.default_rng(6)
    layer = keras.layers.Dense(4, activation=activation)
    layer.build(input_shape)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    x = rng.normal(size=input_shape).astype("float32")
    results = []
    for run in (dense_forward, lambda layer, xt: layer(xt)):
        xt = torch.tensor(x, requires_grad=True)
        for w in layer.trainable_weights:
            w.value.grad = None
        y = run(layer, xt)
        (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        results.append([y.detach(), xt.grad] + [w.value.grad.clone() for w in layer.trainable_weights])
    for a, b in zip(*results):
        assert a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    # An input the layer would cast (float64 into a float32 layer): its own call.
    y64 = dense_forward(layer, torch.tensor(x, dtype=torch.float64))
    assert keras.backend.standardize_dtype(y64.dtype) == "float32"
