"""CausalSelfAttention2D: layer contract, raster-order causality, cached steps."""

import numpy as np
import pytest

from keras_ar.layers.causal_self_attention_2d import (
    CausalSelfAttention2D,
    position_features,
)
from tests.helpers import dependency_mask, run_layer_test, to_numpy

HEIGHT, WIDTH = 3, 4


def _random_layer(seed=0, **kwargs):
    """A built layer with random non-zero weights and biases."""
    layer = CausalSelfAttention2D(**kwargs)
    layer(
        np.zeros((1, HEIGHT, WIDTH, 3), "float32"),
        np.zeros((1, HEIGHT, WIDTH, 2), "float32"),
    )
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0.0, 1.0, size=tuple(w.shape)).astype("float32"))
    return layer


@pytest.mark.parametrize(
    "kwargs, with_context",
    [
        ({"num_heads": 2, "key_dim": 3, "value_dim": 5}, True),
        ({"key_dim": 4, "output_dim": 6, "include_current": True}, False),
    ],
)
def test_layer_contract(tmp_path, kwargs, with_context):
    x = np.random.normal(size=(2, HEIGHT, WIDTH, 3)).astype("float32")
    data = [x, np.random.normal(size=(2, HEIGHT, WIDTH, 2)).astype("float32")]
    features = kwargs.get("output_dim", 3)
    run_layer_test(
        CausalSelfAttention2D,
        kwargs,
        data if with_context else x,
        expected_output_shape=(2, HEIGHT, WIDTH, features),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("include_current", [False, True])
def test_raster_causality(include_current):
    """Output i moves with the context (keys and values) at positions < i
    (or <= i) only, and with every one of them: the whole past is the
    receptive field. The inputs also give pixel i's own query."""
    layer = _random_layer(num_heads=2, key_dim=3, include_current=include_current)
    n = HEIGHT * WIDTH
    x = np.random.normal(size=(1, HEIGHT, WIDTH, 5)).astype("float32")

    def fn(v):
        return to_numpy(layer(v[..., :3], v[..., 3:]))

    dep = dependency_mask(fn, x)  # [(position, feature), (position, feature)]
    dep = dep.reshape(n, 5, n, -1)
    order = np.arange(n)
    past = order[:, None] < order[None, :]
    own = order[:, None] == order[None, :]
    context = past | own if include_current else past
    np.testing.assert_array_equal(dep[:, 3:].any(axis=(1, 3)), context)
    # Pixel i's own features give its query (and, with include_current, a
    # key and value). Under the strict mask the query of pixel 0 (nothing to
    # attend to) and of pixel 1 (one key: softmax weight 1) changes nothing.
    query = own.copy()
    if not include_current:
        query[0, 0] = query[1, 1] = False
    np.testing.assert_array_equal(dep[:, :3].any(axis=(1, 3)), context | query)


@pytest.mark.parametrize("include_current", [False, True])
def test_cached_steps_equal_full_call(include_current):
    """Pixel by pixel through the key/value cache gives the full call's
    output at every position (keras-hub's cached-attention check)."""
    layer = _random_layer(
        seed=1, num_heads=2, key_dim=3, value_dim=2, include_current=include_current
    )
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, HEIGHT, WIDTH, 3)).astype("float32")
    context = rng.normal(size=(2, HEIGHT, WIDTH, 2)).astype("float32")
    full = to_numpy(layer(x, context))
    cache = layer.init_cache(batch_size=2)
    for row in range(HEIGHT):
        for col in range(WIDTH):
            out, cache = layer.call_at(
                x[:, row, col], cache, row, col, context[:, row, col]
            )
            np.testing.assert_allclose(to_numpy(out), full[:, row, col], atol=1e-5)
            if not include_current:
                # The pixel's value is known now: append its key and value.
                cache = layer.update_cache(
                    cache, x[:, row, col], row, col, context[:, row, col]
                )
    # Pixel 0 has no past under the strict mask: only the output bias.
    if not include_current:
        np.testing.assert_allclose(
            full[:, 0, 0],
            np.broadcast_to(to_numpy(layer.output_bias), (2, 3)),
            atol=1e-6,
        )


def test_background():
    table = position_features(2, 4)
    assert table.shape == (8, 2)
    np.testing.assert_allclose(table[5], [(1 - 1) / 2, (1 - 2) / 4])
    layer = _random_layer(use_position_features=False)
    assert layer.query_kernel.shape == (3, 1, 16)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_heads=0), ValueError, "num_heads"),
        (dict(key_dim=0), ValueError, "key_dim"),
        (dict(include_current="yes"), TypeError, "include_current"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        CausalSelfAttention2D(**kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="rank 4"):
        CausalSelfAttention2D()(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="context"):
        CausalSelfAttention2D()(
            np.zeros((1, 2, 2, 3), "float32"), np.zeros((1, 2, 3, 1), "float32")
        )
    layer = _random_layer()
    with pytest.raises(ValueError, match="context"):
        layer(np.zeros((1, HEIGHT, WIDTH, 3), "float32"))
