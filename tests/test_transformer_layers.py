import sys

import keras
import numpy as np
import pytest

from keras_ar.layers import CausalTransformerStack, RasterPositionEmbedding
from tests.helpers import dependency_mask, only_on, run_layer_test, to_numpy
from tests.model_checks import redraw_weights


def test_raster_position_embedding_layer(tmp_path):
    out = run_layer_test(
        RasterPositionEmbedding,
        {"image_shape": (2, 3, 2)},
        np.zeros((2, 12, 4), "float32"),
        expected_output_shape=(2, 12, 4),
        tmp_path=tmp_path,
        run_training=False,
    )
    layer = RasterPositionEmbedding((2, 3, 2))
    full = to_numpy(layer(np.zeros((1, 12, 4), "float32")))[0]
    rows, cols, chans = (to_numpy(w) for w in layer.weights)
    for t in range(12):
        # Raster order, channels innermost.
        row, col, chan = t // 6, (t // 2) % 3, t % 2
        np.testing.assert_allclose(full[t], rows[row] + cols[col] + chans[chan], atol=1e-6)
        # `start_index` gives position t on its own (cached decoding).
        one = to_numpy(layer(np.zeros((1, 1, 4), "float32"), start_index=t))[0, 0]
        np.testing.assert_allclose(one, full[t], atol=1e-6)
    assert out.shape == (2, 12, 4)


def test_raster_position_embedding_errors():
    with pytest.raises(ValueError, match="image_shape"):
        RasterPositionEmbedding((2, 3))
    with pytest.raises(ValueError, match="image_shape width"):
        RasterPositionEmbedding((2, 0, 1))


def test_causal_transformer_stack_layer(tmp_path):
    run_layer_test(
        CausalTransformerStack,
        {"num_layers": 2, "num_heads": 2, "intermediate_dim": 8, "dropout": 0.1},
        np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32"),
        expected_output_shape=(3, 5, 4),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("normalize_first", [True, False])
def test_causal_transformer_stack_is_causal_and_cached(normalize_first):
    stack = CausalTransformerStack(
        num_layers=2, num_heads=2, intermediate_dim=8, normalize_first=normalize_first
    )
    x = np.random.default_rng(1).normal(size=(1, 5, 4)).astype("float32")
    full = to_numpy(stack(x))
    redraw_weights([stack], scale=0.5)
    full = to_numpy(stack(x))
    # Output t moves with input s only if s <= t.
    dep = dependency_mask(lambda v: to_numpy(stack(v)), x, eps=0.5)
    dep = dep.reshape(5, 4, 5, 4).any(axis=(1, 3))
    allowed = np.arange(5)[:, None] <= np.arange(5)[None, :]
    assert not (dep & ~allowed).any()
    assert dep[allowed].all()
    # One position at a time through the key/value cache gives the same
    # outputs; so does a 2-position prompt followed by single steps.
    cache = stack.init_cache(1, 5)
    steps = []
    for t in range(5):
        out, cache = stack(x[:, t : t + 1], cache=cache, cache_update_index=t)
        steps.append(to_numpy(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    prompt_out, cache = stack(x[:, :2], cache=stack.init_cache(1, 5), cache_update_index=0)
    np.testing.assert_allclose(to_numpy(prompt_out), full[:, :2], atol=1e-5)
    out, _ = stack(x[:, 2:3], cache=cache, cache_update_index=2)
    np.testing.assert_allclose(to_numpy(out), full[:, 2:3], atol=1e-5)
    # The sampling loop's `call_step` (index a tensor, in place on PyTorch)
    # gives the same outputs, and the caller's cache is not touched by `call`.
    cache = stack.init_cache(1, 5)
    before = to_numpy(cache[0][0]).copy()
    stack(x[:, :1], cache=cache, cache_update_index=0)
    np.testing.assert_array_equal(to_numpy(cache[0][0]), before)
    steps = []
    for t in range(5):
        index = keras.ops.convert_to_tensor(t, "int32")
        out, cache = stack.call_step(x[:, t : t + 1], cache, index)
        steps.append(to_numpy(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_causal_transformer_stack_errors(monkeypatch):
    with pytest.raises(ValueError, match="num_heads=3"):
        CausalTransformerStack(1, 3, 8)(np.zeros((1, 2, 4), "float32"))
    with pytest.raises(ValueError, match="dropout"):
        CausalTransformerStack(1, 1, 8, dropout=1.0)
    with pytest.raises(TypeError, match="num_layers"):
        CausalTransformerStack(1.5, 1, 8)
    stack = CausalTransformerStack(2, 1, 8)
    x = np.zeros((1, 2, 4), "float32")
    stack(x)
    with pytest.raises(ValueError, match=r"`cache` must be .* 2 \[keys, values\]"):
        stack(x, cache=stack.init_cache(1, 4)[:1], cache_update_index=0)
    # Without keras-hub: an ImportError that names the extra to install.
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    with pytest.raises(ImportError, match=r"pip install -e \"\.\[text\]\""):
        CausalTransformerStack(1, 1, 8)


@only_on("torch", "the torch-direct step calls exist on PyTorch only (elsewhere they are the layers' calls)")
def test_step_layer_calls_match_the_layers():
    """An eager PyTorch sampling step calls `Dense`, `EinsumDense`,
    `LayerNormalization` and `Embedding` through `keras_ar.backend.constants`
    (torch directly, weights kept flattened): the same values as the
    layers' own calls, new weights followed from one sampling call to the
    next, and any equation that is not one matrix product left to the
    layer."""
    from keras_ar.backend import no_grad
    from keras_ar.backend.constants import (
        _dense_plan,
        dense_call,
        embedding_call,
        layer_norm_call,
        weights_fixed,
    )
    from keras_ar.layers.causal_transformer_stack import gelu_tanh

    rng = np.random.default_rng(0)
    x3 = keras.ops.convert_to_tensor(rng.normal(size=(2, 3, 6)).astype("float32"))
    x4 = keras.ops.convert_to_tensor(rng.normal(size=(2, 3, 2, 3)).astype("float32"))
    layers = [
        (keras.layers.Dense(5, activation=gelu_tanh), x3),
        (keras.layers.Dense(5, activation="relu", use_bias=False), x3),
        (keras.layers.EinsumDense("abc,cde->abde", (None, 2, 4), bias_axes="de"), x3),
        (keras.layers.EinsumDense("abcd,cde->abe", (None, 7), bias_axes="e"), x4),
        (keras.layers.LayerNormalization(epsilon=1e-5), x3),
        (keras.layers.LayerNormalization(center=False), x3),
    ]
    for layer, x in layers:
        layer(x)
    # Not one product over trailing axes: the layer's own call.
    transposed = keras.layers.EinsumDense("abc,dc->abd", (None, 4), bias_axes="d")
    transposed(x3)
    assert _dense_plan(transposed) is None
    assert _dense_plan(layers[2][0])[0] == 1 and _dense_plan(layers[3][0])[0] == 2
    # A first call builds the layer (its own call); the next ones take the product.
    fresh = keras.layers.Dense(3)
    dense_call(fresh, x3)
    assert _dense_plan(fresh)[0] == 1
    embedding = keras.layers.Embedding(9, 4)
    ids = keras.ops.convert_to_tensor(rng.integers(0, 9, (2, 3)).astype("int32"))
    embedding(ids)
    for _ in range(2):
        with no_grad(), weights_fixed():
            for layer, x in layers:
                call = layer_norm_call if "Normalization" in type(layer).__name__ else dense_call
                np.testing.assert_allclose(
                    to_numpy(call(layer, x)), to_numpy(layer(x)), rtol=1e-6, atol=1e-6
                )
            np.testing.assert_array_equal(
                to_numpy(dense_call(transposed, x3)), to_numpy(transposed(x3))
            )
            np.testing.assert_array_equal(
                to_numpy(embedding_call(embedding, ids)), to_numpy(embedding(ids))
            )
        for layer in [layer for layer, _ in layers] + [embedding]:
            for weight in layer.weights:
                weight.assign(rng.normal(size=weight.shape).astype("float32"))
