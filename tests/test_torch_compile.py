"""The compiled PyTorch sampling loop (`KERAS_AR_TORCH_COMPILE`).

On PyTorch the cached sampling step can run under `torch.compile`. These
tests check, for every image family, that the compiled loop gives exactly
the eager loop's samples (and the uncached path's), and that the step is
traced without a single graph break: the models' step-index branches
(`_static_branches`) and NumPy masks (`keras_ar.backend.constants`) are
what makes it one graph. Most tests trace with the "aot_eager" backend
(dynamo's tracing and functionalization, no code generation: seconds); one
runs the real compiler (inductor).
"""

import keras
import numpy as np
import pytest

from keras_ar.backend import torch_compile_backend, torch_compile_explicit
from tests import tiny_models
from tests.model_checks import redraw_weights

BACKEND = keras.backend.backend()
torch_only = pytest.mark.skipif(BACKEND != "torch", reason="the PyTorch sampling loop")

IMAGE_FAMILIES = [
    "pixelcnn",
    "gated_pixelcnn",
    "pixelcnn_plus_plus",
    "pixel_snail",
    "pixel_rnn_row_lstm",
    "pixel_rnn_diagonal_bilstm",
    "image_transformer",
]
# Not image models, same guarantees.
FAMILIES = IMAGE_FAMILIES + ["wavenet", "made"]
# PixelCNN++'s step is four graphs (its branches) of about 1400 operations
# each: dynamo traces them in 40 s, and AOT's functionalization doubles that.
# Its caches are written through the same slicing and StepBuffers code that
# the other families' "aot_eager" traces functionalize, so it is traced with
# dynamo's "eager" backend: one graph per branch, no break, same samples.
TRACER = {"pixelcnn_plus_plus": "eager"}


def _samples(model, labels, setting, monkeypatch, **kwargs):
    monkeypatch.setenv("KERAS_AR_TORCH_COMPILE", setting)
    if labels is not None:
        kwargs["labels"] = labels[:3]
    return model.generate(num_samples=3, seed=5, verbose=0, **kwargs)


@torch_only
@pytest.mark.parametrize("name", FAMILIES)
def test_compiled_step_is_one_graph_and_matches_eager(name, monkeypatch):
    from torch._dynamo.utils import counters

    model, x, labels = tiny_models.build(name)
    model(model.pack_inputs(x[:1], None if labels is None else labels[:1]))
    redraw_weights([model], scale=1.5, seed=3)
    eager = _samples(model, labels, "0", monkeypatch)
    counters.clear()
    tracer = TRACER.get(name, "aot_eager")
    compiled = _samples(model, labels, tracer, monkeypatch)
    breaks = dict(counters["graph_break"])
    np.testing.assert_array_equal(compiled, eager)
    # The step-index branches are Python values: no graph break anywhere.
    assert not breaks, breaks
    uncached = _samples(model, labels, "0", monkeypatch, use_cache=False)
    np.testing.assert_array_equal(eager, uncached)
    # Another seed and temperature, and chunks of the batch size seen: the
    # compiled step is reused, never compiled again.
    graphs = counters["stats"]["unique_graphs"]
    assert graphs >= 1, dict(counters["stats"])
    kwargs = {"num_samples": 5, "batch_size": 3, "seed": 6, "temperature": 0.7}
    if labels is not None:
        kwargs["labels"] = labels[:5]
    monkeypatch.setenv("KERAS_AR_TORCH_COMPILE", tracer)
    model.generate(verbose=0, **kwargs)
    assert counters["stats"]["unique_graphs"] == graphs, dict(counters["stats"])


@torch_only
def test_inductor_compiled_loop_matches_eager(monkeypatch):
    model, x, _ = tiny_models.build("pixelcnn")
    model(x[:1])
    redraw_weights([model], scale=1.5, seed=4)
    eager = _samples(model, None, "0", monkeypatch)
    compiled = _samples(model, None, "1", monkeypatch)
    np.testing.assert_array_equal(compiled, eager)
    # A second call reuses the compiled step (same samples again).
    np.testing.assert_array_equal(_samples(model, None, "1", monkeypatch), eager)


@torch_only
def test_compiler_failure_falls_back_to_eager(monkeypatch):
    import torch._dynamo

    @torch._dynamo.register_backend(name="keras_ar_test_broken")
    def broken(graph_module, example_inputs):
        raise RuntimeError("no compiler here")

    model, x, _ = tiny_models.build("pixelcnn")
    model(x[:1])
    eager = _samples(model, None, "0", monkeypatch)
    with pytest.warns(UserWarning, match="sampling eagerly"):
        fallback = _samples(model, None, "keras_ar_test_broken", monkeypatch)
    np.testing.assert_array_equal(fallback, eager)


@torch_only
def test_static_branches_follow_the_raster_order():
    model, _, _ = tiny_models.build("pixel_snail")  # 3x3 RGB: 3 steps a pixel
    steps = [model._static_branches(i) for i in range(27)]
    new_rows = [i for i, b in enumerate(steps) if b["new_row"]]
    assert new_rows == [9, 18]  # (row 1, col 0, R) and (row 2, col 0, R)
    assert [b["same_pixel"] for b in steps[:4]] == [False, True, True, False]


def test_torch_compile_backend_setting(monkeypatch, tmp_path):
    model, _, _ = tiny_models.build("pixelcnn")
    if BACKEND != "torch":
        # JAX and TensorFlow compile their loops with XLA, whatever is set.
        monkeypatch.setenv("KERAS_AR_TORCH_COMPILE", "1")
        assert torch_compile_backend(model) is None
        return
    for value, expected in [
        ("0", None), ("off", None), ("1", "inductor"), ("true", "inductor"),
        ("aot_eager", "aot_eager"),
    ]:  # fmt: skip
        monkeypatch.setenv("KERAS_AR_TORCH_COMPILE", value)
        assert torch_compile_backend(model) == expected
    # Unset: compiled by default, eager when the model says so with Keras'
    # own switches (kept through a save/load round trip).
    monkeypatch.delenv("KERAS_AR_TORCH_COMPILE")
    assert torch_compile_backend(model) == "inductor"
    model.compile(jit_compile=True)
    assert torch_compile_backend(model) == "inductor"
    for switch in ({"jit_compile": False}, {"run_eagerly": True}):
        model.compile(**switch)
        assert torch_compile_backend(model) is None
    path = tmp_path / "eager.keras"
    model.save(path)
    assert torch_compile_backend(keras.saving.load_model(path)) is None
    model.compile()
    assert torch_compile_backend(model) == "inductor"
    monkeypatch.setenv("KERAS_AR_TORCH_COMPILE", "0")
    assert torch_compile_backend(model) is None
    # Explicit choices (the environment, `jit_compile` True or False) are
    # followed as they are; otherwise the loop compiles where it pays.
    assert torch_compile_explicit(model)
    monkeypatch.delenv("KERAS_AR_TORCH_COMPILE")
    assert not torch_compile_explicit(model)
    model.compile(jit_compile=True)
    assert torch_compile_explicit(model)
    model.compile(jit_compile=False)
    assert torch_compile_explicit(model)



@torch_only
def test_diagonal_bilstm_row_sweeps_run_eagerly_and_the_rest_compiles_once(monkeypatch):
    from torch._dynamo.utils import counters

    from keras_ar.models import PixelRNN

    model = PixelRNN(
        (3, 4, 1), levels=4, kind="diagonal_bilstm", num_layers=1, hidden_dim=4,
        stem_kernel_size=3,
    )  # fmt: skip
    redraw_weights([model], scale=1.5, seed=3)
    assert [model._eager_step(i) for i in range(12)] == [i in (4, 8) for i in range(12)]
    eager = _samples(model, None, "0", monkeypatch)
    counters.clear()
    compiled = _samples(model, None, "aot_eager", monkeypatch)
    np.testing.assert_array_equal(compiled, eager)
    # One graph: the steps that start a row ran eagerly, not compiled as a
    # second variant, and left the state's strides as they were (no
    # recompilation).
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])
    assert not counters["graph_break"]
