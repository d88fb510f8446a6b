"""`generate` for every family: chunks (`batch_size`), progress (`verbose`),
and the same samples for a seed whatever the path and the chunking."""

import keras
import numpy as np
import pytest

import keras_ar.generation as generation
from tests.helpers import only_on, take_turns
from tests.tiny_models import TINY_MODELS, build


def _labels(model, n):
    return {} if not model.conditional else {"labels": np.arange(n) % model.num_classes}


# The chunking and the seeds are the shared `generate`'s: the families take
# turns on the two compiling backends (every family runs on PyTorch).
# PixelCNN++'s compiled loops cost a minute here (three of them) and only
# repeat, for this check, what the other families' check; its compiled
# cached = uncached runs in test_pixelcnn_plus_plus.py (JAX, PyTorch).
CHUNKED = [
    pytest.param(name, marks=only_on("torch", "PyTorch only (test time)"))
    if name == "pixelcnn_plus_plus"
    else name
    for name in sorted(TINY_MODELS)
]


@pytest.mark.parametrize(*take_turns("name", CHUNKED))
def test_chunking_and_cache_do_not_change_samples(name):
    model, _, _ = build(name)
    kwargs = _labels(model, 5)
    whole = model.generate(num_samples=5, seed=11, **kwargs)
    # Chunks of 2 (the last one padded to 2): the same samples.
    chunked = model.generate(num_samples=5, seed=11, batch_size=2, **kwargs)
    np.testing.assert_array_equal(chunked, whole)
    # The reference path, in chunks too, makes the same choices.
    uncached = model.generate(num_samples=5, seed=11, batch_size=2, use_cache=False, **kwargs)
    np.testing.assert_array_equal(uncached, whole)
    assert whole.shape[0] == 5 and whole.dtype == np.int32
    # The samples do depend on the seed (the test could fail).
    assert not np.array_equal(model.generate(num_samples=5, seed=12, **kwargs), whole)


def test_default_chunks_bound_the_batch(monkeypatch):
    model, _, _ = build("pixelcnn")
    expected = model.generate(num_samples=10, seed=3)
    seen = []
    original = model._generation_state

    def spy(x0, labels, use_cache):
        seen.append(len(x0))
        return original(x0, labels, use_cache)

    monkeypatch.setattr(model, "_generation_state", spy)
    monkeypatch.setattr(generation, "MAX_DEFAULT_BATCH", 4)
    np.testing.assert_array_equal(model.generate(num_samples=10, seed=3), expected)
    # One one-sample state to size the chunks, then 3 chunks of 4 (padded).
    assert seen == [1, 4, 4, 4]
    # A state budget smaller than one chunk shrinks the chunks.
    seen.clear()
    monkeypatch.setattr(generation, "STATE_BUDGET_BYTES", 1)
    model.generate(num_samples=3, seed=3)
    assert seen == [1, 1, 1, 1]


def test_batch_size_chooser():
    assert generation.generation_batch_size(None, 5000, lambda: 10) == 1024
    assert generation.generation_batch_size(None, 100, lambda: 10) == 100
    budget = generation.STATE_BUDGET_BYTES
    assert generation.generation_batch_size(None, 5000, lambda: budget // 8) == 8
    assert generation.generation_batch_size(None, 5000, lambda: 2 * budget) == 1
    assert generation.generation_batch_size(7, 5, lambda: 1) == 5


def test_progress_bar(capsys):
    model, _, _ = build("made")
    quiet = model.generate(num_samples=4, seed=0, verbose=0)
    assert capsys.readouterr().out == ""
    shown = model.generate(num_samples=4, seed=0, verbose=1, batch_size=2)
    out = capsys.readouterr().out
    # 2 chunks x 5 steps, counted in steps, ending at the total.
    assert "10/10" in out
    np.testing.assert_array_equal(shown, quiet)
    # "auto" stays quiet for a short run.
    model.generate(num_samples=4, seed=0)
    assert capsys.readouterr().out == ""


def test_auto_progress_for_many_chunks(capsys, monkeypatch):
    model, _, _ = build("made")
    monkeypatch.setattr(generation, "AUTO_VERBOSE_CHUNKS", 2)
    model.generate(num_samples=4, seed=0, batch_size=2)
    assert "10/10" in capsys.readouterr().out


def test_caller_arrays_are_not_written():
    # The PyTorch loop updates its state in place: never the caller's arrays.
    model, _, _ = build("pixelcnn")
    prefix = np.ones((2, 1, 3, 1), "int32")
    before = prefix.copy()
    out = model.generate(num_samples=2, seed=0, prefix=prefix)
    np.testing.assert_array_equal(prefix, before)
    np.testing.assert_array_equal(out[:, :1], prefix)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TensorFlow's loop without XLA (the compression loop's) is the one "
    "that writes its caches in place",
)
@pytest.mark.parametrize("name", sorted(TINY_MODELS))
def test_tensorflow_loop_without_xla_writes_in_place_safely(name, monkeypatch):
    """The loop without XLA writes its caches in place
    (`slicing.tf_in_place_loop`): the same samples as the same loop with
    copies, twice in a row (no state left behind), and (two families) no
    caller's prefix written."""
    from keras_ar.backend import slicing
    from keras_ar.backend.compiled_loop import compile_loop

    model, _, _ = build(name)
    kwargs = _labels(model, 3)

    def step(i, state, noise_i, temperature):
        return model._generation_step(i, state, noise_i, temperature, use_cache=True)

    def without_xla():
        model._generation_loops[True] = compile_loop(model, step, jit_compile=False)
        return model.generate(num_samples=3, seed=4, **kwargs)

    # The same loop twice: nothing of the first call is left in the second.
    in_place = [without_xla(), model.generate(num_samples=3, seed=4, **kwargs)]
    with monkeypatch.context() as patch:
        patch.setattr(slicing, "_tf_in_place", lambda: False)
        copied = without_xla()
    for samples in in_place:
        np.testing.assert_array_equal(samples, copied)
    if name in ("pixelcnn", "gated_pixelcnn"):
        # The loop's private copy of its initial state, whatever the family
        # (test_tensorflow_in_place_loop_leaves_its_inputs): on two image
        # families here (each prefix run traces the loop once more).
        prefix = np.ones((3, 1) + tuple(model.image_shape[1:]), "int32")
        before = prefix.copy()
        model._generation_loops[True] = compile_loop(model, step, jit_compile=False)
        out = model.generate(num_samples=3, seed=4, prefix=prefix, **kwargs)
        np.testing.assert_array_equal(prefix, before)
        np.testing.assert_array_equal(out[:, :1], prefix)
    model._generation_loops.clear()


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TensorFlow's loop without XLA is the one that writes in place",
)
def test_tensorflow_in_place_loop_leaves_its_inputs():
    """The loop writes a private copy of its initial state: the caller's
    tensors are the same after the call, and a second call starts afresh."""
    from keras import ops

    from keras_ar.backend.compiled_loop import compile_loop
    from keras_ar.backend.slicing import loop_slice_update

    def step(i, state, noise_i, temperature):
        row = ops.ones((1, 3)) * ops.cast(i + 1, "float32")
        return {"buf": loop_slice_update(state["buf"], [i, 0], row)}

    run = compile_loop(None, step, jit_compile=False)
    buf = ops.zeros((4, 3))
    noise = np.zeros((4, 1, 1), "float32")
    for _ in range(2):
        out = ops.convert_to_numpy(run({"buf": buf}, noise, 1, 3, 1.0)["buf"])
        np.testing.assert_array_equal(out[:, 0], [0, 2, 3, 0])
        np.testing.assert_array_equal(ops.convert_to_numpy(buf), np.zeros((4, 3)))


def test_bad_arguments():
    model, _, _ = build("made")
    with pytest.raises(ValueError, match="batch_size"):
        model.generate(num_samples=3, batch_size=0)
    with pytest.raises(ValueError, match="verbose"):
        model.generate(num_samples=3, verbose="loud")
    lm, _, _ = build("recurrent_lm")
    with pytest.raises(ValueError, match="batch_size"):
        lm.generate(num_samples=3, batch_size=-1)
