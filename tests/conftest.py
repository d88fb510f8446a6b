import os

# On PyTorch `generate` compiles its cached step by default, a first call of
# seconds to minutes per model and shape: the tests sample hundreds of tiny
# models, so they sample eagerly unless a test asks otherwise
# (test_torch_compile.py checks the compiled step of every family against
# the eager one). Set before keras_ar is used, so every worker inherits it.
os.environ.setdefault("KERAS_AR_TORCH_COMPILE", "0")
# Test speed only. On the CPU, JAX compiles each new shape of a random op
# (every weight initializer) in 0.3-3 s with its default "partitionable"
# Threefry layout, and 3-5x faster with the older one: building a tiny
# PixelCNN++ took 21 s against 4 s. The layout only decides which bits a
# key gives; no test depends on those bits. Set before JAX is imported, so
# the test processes and every child process (README blocks, recipes,
# workers) use it.
os.environ.setdefault("JAX_THREEFRY_PARTITIONABLE", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.helpers import COMPILING_BACKENDS  # noqa: E402

# Scripts that tests run in subprocesses, not test modules: importing one
# (as --doctest-modules would) runs its process set-up (export_worker.py
# makes keras unimportable).
collect_ignore = [
    "cross_backend_worker.py",
    "distribute_worker.py",
    "export_worker.py",
    "data/make_saved.py",
]


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.backend.backend()}"


# Modules whose module fixtures or subprocesses take a minute or more: run
# first, so that the two workers share out the rest and none is left with a
# long test at the end while the other waits.
SLOW_MODULES = (
    "test_export.py", "test_distribute.py", "test_cross_backend.py", "test_onnx.py",
)  # fmt: skip


# Test time: the model and layer modules below run whole on PyTorch (eager,
# milliseconds a test) and on ONE of the two compiling backends, where each
# test costs seconds of XLA compiling; there, a module's checks of the
# model's math (normalisation, samples that follow log_prob, causality,
# defaults: `tests.helpers.math_on_torch`) run on PyTorch only, and its
# compiled paths (cached equals uncached, fit, save/load) stay. What the
# compiling backends add (the compiled train step and sampling loop, their
# caches, export) is checked for every family in the shared modules
# (test_generation, test_training_api, test_bad_inputs, test_export,
# test_cross_backend), which run on all three, each family compiled on
# TensorFlow or JAX. Text, vector, continuous and head modules compile on
# TensorFlow (JAX took two to twenty times longer on them); image families
# on JAX. The layer modules run on PyTorch only: every layer runs
# compiled, on TensorFlow or JAX, inside the families' model tests.
ONE_COMPILING_BACKEND = {
    **dict.fromkeys((
        "test_transformer_lm.py", "test_recurrent_lm.py", "test_continuous.py",
        "test_made.py", "test_wavenet.py", "test_samplers.py",
        "test_discretized_logistic.py", "test_mixture_of_logistics.py",
    ), "tensorflow"),
    **dict.fromkeys((
        "test_gated_block.py", "test_pixel_rnn_layers.py", "test_causal_conv1d.py",
        "test_causal_self_attention_2d.py", "test_transformer_layers.py",
        "test_masked_conv2d.py", "test_made_masks.py",
    ), "torch"),
    **dict.fromkeys((
        "test_pixelcnn.py", "test_gated_pixelcnn.py", "test_pixelcnn_plus_plus.py",
        "test_pixel_snail.py", "test_pixel_rnn.py", "test_image_transformer.py",
    ), "jax"),
}  # fmt: skip


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "turn(skipped_on): a variant skipped on one compiling backend "
        "(tests/helpers.py take_turns)",
    )


def _apply_turns(items, backend):
    """Skips what `ONE_COMPILING_BACKEND` and `take_turns` leave to another
    backend; PyTorch runs everything."""
    if backend == "torch":
        return
    for item in items:
        owner = ONE_COMPILING_BACKEND.get(item.path.name)
        if owner is not None and owner != backend:
            reason = (
                "test time: layers, on torch only (compiled inside the model tests)"
                if owner == "torch"
                else f"test time: this module compiles on {owner} (and runs on torch)"
            )
            item.add_marker(pytest.mark.skip(reason=reason))
            continue
        turn = item.get_closest_marker("turn")
        if owner is None and turn is not None and turn.kwargs["skipped_on"] == backend:
            other = next(b for b in COMPILING_BACKENDS if b != backend)
            reason = f"variants take turns (test time): on {other} and torch"
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_collection_modifyitems(config, items):
    """Slow modules first (in their own order); the docstrings' runnable
    examples run on PyTorch only: they are backend-generic calls (fit,
    log_prob, generate) that the tests run family by family on every
    backend, and each example compiles its model afresh where the backend
    compiles (about 100 s of the JAX run, 25 s of TensorFlow's, 4 s of
    PyTorch's)."""
    items.sort(key=lambda item: item.path.name not in SLOW_MODULES)
    _apply_turns(items, keras.backend.backend())
    if keras.backend.backend() == "torch":
        return
    from _pytest.doctest import DoctestItem

    skip = pytest.mark.skip(reason="examples run on PyTorch (test time)")
    for item in items:
        if isinstance(item, DoctestItem):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
