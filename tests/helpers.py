"""Shared test helpers, in the spirit of keras' `run_layer_test`.

Every layer test goes through `run_layer_test`, which checks, for one layer
configuration: output shape against `compute_output_shape`, a `get_config` /
`from_config` round trip, a `.keras` save/load round trip inside a model, and
one training step that changes the weights and gives a finite loss.
"""

import inspect
import os

import keras
import numpy as np
import pytest


def not_on(backend, reason):
    """Skips a test on `backend` (the suite runs once per backend), saying
    which other test or backend covers what it checks."""
    return pytest.mark.skipif(keras.backend.backend() == backend, reason=reason)


def only_on(backend, reason):
    """Runs a test on `backend` only: for what is the same Python on every
    backend (shapes, configs, argument checks), where building the weights
    is what costs (JAX compiles every initializer)."""
    return pytest.mark.skipif(keras.backend.backend() != backend, reason=reason)


#: For a property of a model's math (a distribution that sums to one and
#: that the sampler follows, causality, default sizes) in a family's own
#: module: the same Keras ops on every backend, checked eagerly on PyTorch.
#: What each backend compiles (the train step, the cached sampling loop
#: against the uncached one, save/load) stays in the module's other tests
#: and in the shared modules. PixelCNN's module (JAX) and MADE's and
#: RecurrentLM's (TensorFlow) keep theirs compiled too: samples follow
#: `log_prob` through each compiling backend's loop and random numbers.
math_on_torch = only_on(
    "torch", "the model's math: checked on PyTorch (test time; compiled paths: other tests)"
)


#: The backends that compile each model's functions (its train step, its
#: sampling loop): a test costs seconds there and milliseconds on PyTorch.
COMPILING_BACKENDS = ("tensorflow", "jax")


def take_turns(argnames, values):
    """`pytest.mark.parametrize` arguments for variants of one code path
    (sizes, samplers, heads, families of a shared loop): PyTorch runs every
    variant, the first variant runs on every backend, and each later one
    runs on one of the two compiling backends in turn (TensorFlow, then
    JAX). Every variant is still checked eagerly and compiled, at half the
    compile time. In a module that conftest.py's `ONE_COMPILING_BACKEND`
    gives to one compiling backend, every variant runs there.

    Usage: `@pytest.mark.parametrize(*take_turns("a, b", [(1, 2), (3, 4)]))`.
    A value may be a `pytest.param` (its marks and id are kept).
    """
    names = argnames.split(",") if isinstance(argnames, str) else list(argnames)
    many = len([n for n in names if n.strip()]) > 1
    params = []
    for k, value in enumerate(values):
        marks, id_ = (), None
        if isinstance(value, type(pytest.param(None))):
            value, marks, id_ = value.values, tuple(value.marks), value.id
        elif not many:
            value = (value,)
        if k:
            # Applied (or not) by conftest.py, which knows the module.
            marks += (pytest.mark.turn(skipped_on=COMPILING_BACKENDS[k % 2]),)
        params.append(pytest.param(*value, marks=marks, id=id_))
    return argnames, params


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape=None,
    tmp_path=None,
    run_training=True,
    call_kwargs=None,
    atol=1e-5,
):
    """Checks shapes, serialization, save/load and a training step.

    Args:
        layer_cls: the layer class.
        init_kwargs: dict of constructor arguments.
        input_data: a NumPy array, or a list of arrays for multi-input layers.
        expected_output_shape: tuple (or list of tuples for several outputs);
            `None` in a dim is accepted where the layer cannot know it.
        tmp_path: a directory for the `.keras` file (pytest's `tmp_path`).
        run_training: whether to run one `fit` step.
        call_kwargs: extra keyword arguments for `call`.
    Returns:
        The layer's output on `input_data` (NumPy, or a list of them).
    """
    call_kwargs = call_kwargs or {}
    multi_input = isinstance(input_data, (list, tuple))
    inputs_np = list(input_data) if multi_input else [input_data]

    # 1. Config round trip: from_config(get_config()) gives the same config.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key in init_kwargs:
        assert key in config, f"get_config() drops the argument {key!r}"
    # Every argument the signature shows (`help()`), weight arguments included.
    for key, param in inspect.signature(layer_cls).parameters.items():
        if param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            assert key in config, f"get_config() drops the argument {key!r}"
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    # Through Keras' own (de)serialization, which needs the registration.
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(revived) is layer_cls
    assert revived.get_config() == config

    # 2. Call and compare with compute_output_shape.
    args = inputs_np if multi_input else inputs_np[:1]
    output = layer(*args, **call_kwargs)
    outputs = output if isinstance(output, (list, tuple)) else [output]
    shapes = [tuple(x.shape) for x in inputs_np]
    computed = layer.compute_output_shape(*shapes)
    computed_list = (
        list(computed)
        if computed and isinstance(computed[0], (list, tuple))
        else [computed]
    )
    assert len(computed_list) == len(outputs)
    for out, shape in zip(outputs, computed_list):
        assert _shape_matches(tuple(out.shape), tuple(shape)), (out.shape, shape)
        assert np.all(np.isfinite(to_numpy(out)))
    if expected_output_shape is not None:
        expected = (
            expected_output_shape
            if isinstance(expected_output_shape, list)
            else [expected_output_shape]
        )
        for out, shape in zip(outputs, expected):
            assert _shape_matches(tuple(out.shape), tuple(shape)), (out.shape, shape)

    # 3. Save/load inside a functional model: same outputs after reload.
    model = _wrap_in_model(layer_cls, init_kwargs, inputs_np, call_kwargs)
    expected_np = _predict(model, inputs_np)
    if tmp_path is not None:
        path = os.path.join(str(tmp_path), f"{layer_cls.__name__}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        got_np = _predict(loaded, inputs_np)
        for a, b in zip(expected_np, got_np):
            np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)

    # 4. One training step: finite loss, trainable weights move.
    if run_training and model.trainable_weights:
        targets = [np.zeros_like(e) for e in expected_np]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        before = [to_numpy(w).copy() for w in model.trainable_weights]
        history = model.fit(
            inputs_np if multi_input else inputs_np[0],
            targets if len(targets) > 1 else targets[0],
            epochs=1,
            batch_size=len(inputs_np[0]),
            verbose=0,
        )
        assert np.isfinite(history.history["loss"][0])
        after = [to_numpy(w) for w in model.trainable_weights]
        assert any(not np.allclose(a, b) for a, b in zip(before, after)), (
            "one training step left every trainable weight unchanged"
        )
    return [to_numpy(o) for o in outputs] if len(outputs) > 1 else to_numpy(outputs[0])


def _shape_matches(actual, expected):
    if len(actual) != len(expected):
        return False
    return all(e is None or a == e for a, e in zip(actual, expected))


def _wrap_in_model(layer_cls, init_kwargs, inputs_np, call_kwargs):
    sym = [
        keras.Input(shape=x.shape[1:], dtype=str(x.dtype) if x.dtype.kind in "iu" else "float32")
        for x in inputs_np
    ]
    out = layer_cls(**init_kwargs)(*sym, **call_kwargs)
    return keras.Model(sym if len(sym) > 1 else sym[0], out)


def _predict(model, inputs_np):
    out = model(inputs_np if len(inputs_np) > 1 else inputs_np[0])
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [to_numpy(o) for o in outs]


def dependency_mask(fn, x, eps=1.0):
    """Which outputs move when each input position is perturbed.

    `fn` maps a NumPy array of shape `(1, *in_positions, in_features)` to an
    array `(1, *out_positions, out_features)`. Returns a boolean array
    `dep[in_index, out_index]` over flattened (position, feature) indices:
    True where perturbing that input element changes that output element.
    Weights should be random and biases non-zero so that "no change" can only
    come from the mask, not from a zero weight.
    """
    base = np.asarray(fn(x), dtype=np.float64)
    flat_in = x.reshape(-1)
    dep = np.zeros((flat_in.size, base.size), dtype=bool)
    for i in range(flat_in.size):
        xp = flat_in.copy()
        xp[i] += eps
        moved = np.asarray(fn(xp.reshape(x.shape)), dtype=np.float64)
        dep[i] = np.abs(moved - base).reshape(-1) > 1e-6
    return dep


def write_fashion_mnist(root, num_train, num_test, labels="random"):
    """A small fake Fashion-MNIST in `root`: the four IDX files the recipes
    read (images gzipped), bright rectangles on black like garments, with
    random labels or, with `labels="cycle"`, labels cycling through the ten
    classes. The same seed every time, so runs compare like for like."""
    from keras_ar.datasets.idx import write_idx

    rng = np.random.default_rng(0)
    for stem, n in (("train", num_train), ("t10k", num_test)):
        images = np.zeros((n, 28, 28), np.uint8)
        for image in images:
            top, left = rng.integers(2, 10, size=2)
            image[top : top + 14, left : left + 10] = rng.integers(100, 256)
        write_idx(root / f"{stem}-images-idx3-ubyte.gz", images)
        if labels == "cycle":
            y = np.arange(n) % 10
        else:
            y = rng.integers(0, 10, size=n)
        write_idx(root / f"{stem}-labels-idx1-ubyte", y.astype(np.uint8))
    return root
