"""ONNX export of every family's forward pass, checked with onnxruntime.

On this backend: `model.export(path, format="onnx")` writes a graph with
int32 inputs (and int32 labels for a conditional model), a dynamic batch
axis, and outputs equal to Keras' within 1e-4 (weights redrawn away from
their initial values, so the check sees real numbers).
"""

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import onnxruntime as ort
import pytest

from keras_ar.onnx import model_input_signature
from tests.model_checks import redraw_weights
from tests.tiny_models import TINY_MODELS, build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND = keras.backend.backend()
# On JAX without jax2onnx, `model.export` hands the model to TensorFlow's
# exporter, which the TensorFlow run checks on every family: there two
# families (a conditional image model and a dense one) check the route.
JAX_THROUGH_TENSORFLOW = BACKEND == "jax" and importlib.util.find_spec("jax2onnx") is None
FAMILIES = ("gated_pixelcnn", "made") if JAX_THROUGH_TENSORFLOW else sorted(TINY_MODELS)


def _feeds(model, x, labels):
    feeds = {"inputs": x.astype("int32")}
    if labels is not None:
        feeds["labels"] = labels.astype("int32")
    return feeds


def _check_session(path, model, x, labels):
    """The ONNX graph's inputs are int32 with a free batch axis, and its
    outputs match the model's within 1e-4 on two batch sizes."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    assert set(inputs) == ({"inputs"} if labels is None else {"inputs", "labels"})
    for spec in inputs.values():
        assert spec.type == "tensor(int32)", spec
        assert not isinstance(spec.shape[0], int), spec.shape  # dynamic batch
    assert list(inputs["inputs"].shape[1:]) == list(x.shape[1:])
    for n in (len(x), 3):
        feeds = _feeds(model, x[:n], None if labels is None else labels[:n])
        expected = keras.ops.convert_to_numpy(
            model(model.pack_inputs(feeds["inputs"], feeds.get("labels")))
        )
        (got,) = session.run(None, feeds)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
        assert np.abs(expected).max() > 1e-2  # not a trivially zero output


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each of `FAMILIES` exported once: `{name: (path, model, x, labels)}`.

    On JAX without jax2onnx, `model.export` hands each model to a TensorFlow
    process; the fixture exports all of them through one such process (the
    command line) so the tests pay for one TensorFlow start, and
    `test_free_length_model` covers `model.export` itself on that route."""
    root = tmp_path_factory.mktemp("onnx")
    cases = {}
    for name in FAMILIES:
        model, x, labels = build(name)
        redraw_weights([model], scale=0.1)
        cases[name] = (root / f"{name}.onnx", model, x, labels)
    if JAX_THROUGH_TENSORFLOW:
        files = []
        for name, (path, model, _, _) in cases.items():
            model.save(str(root / f"{name}.keras"))
            files += [str(root / f"{name}.keras"), str(path)]
        stdout = _cli(files + ["--backend", "tensorflow"])
        # Files saved here, exported by another backend's process.
        assert stdout.count("exported by tensorflow") == len(cases), stdout
    else:
        for path, model, _, _ in cases.values():
            model.export(str(path), format="onnx", verbose=False)
    return cases


@pytest.mark.parametrize("name", FAMILIES)
def test_forward_pass_matches_onnxruntime(name, exported):
    _check_session(*exported[name])


def test_input_signature_from_the_model_spec():
    model, _, _ = build("gated_pixelcnn")
    (spec,) = model_input_signature(model)
    assert spec["inputs"].shape == (None, 3, 3, 1)
    assert spec["inputs"].dtype == spec["labels"].dtype == "int32"
    assert spec["labels"].shape == (None,)
    from keras_ar.models import WaveNet

    free = WaveNet(levels=5, residual_channels=4, skip_channels=4, dilations=[1, 2])
    assert model_input_signature(free)[0].shape == (None, None)
    assert model_input_signature(free, length=7)[0].shape == (None, 7)
    with pytest.raises(ValueError, match="length"):
        model_input_signature(free, length=0)


def test_free_length_model(tmp_path):
    """A free-length RecurrentLM: dynamic length where the exporter keeps it
    (tf2onnx), else a clear error until `length=` fixes it."""
    from keras_ar.models import RecurrentLM

    model = RecurrentLM(vocab_size=7, embedding_dim=4, units=8, pad_token_id=None)
    redraw_weights([model], scale=0.1)
    x = np.random.default_rng(0).integers(0, 7, (4, 5))
    path = tmp_path / "lm.onnx"
    if BACKEND == "tensorflow" or JAX_THROUGH_TENSORFLOW:
        model.export(str(path), format="onnx", verbose=False)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for length in (3, 5):
            (got,) = session.run(None, {"inputs": x[:, :length].astype("int32")})
            expected = keras.ops.convert_to_numpy(model(x[:, :length]))
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    else:
        with pytest.raises(ValueError, match="length="):
            model.export(str(path), format="onnx", verbose=False)
    if BACKEND != "jax":  # (on JAX the same TensorFlow route again)
        model.export(str(path), format="onnx", verbose=False, length=5)
        _check_session(path, model, x, None)
    with pytest.raises(ValueError, match="not both"):
        model.export(
            str(path),
            format="onnx",
            length=5,
            input_signature=model_input_signature(model, length=5),
        )


def test_needs_float32_policy(tmp_path):
    from keras_ar.models import MADE

    model = MADE(input_dim=5, levels=3, hidden_units=(8,), dtype="mixed_float16")
    with pytest.raises(ValueError, match="float32"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")


def _cli(args):
    result = subprocess.run(
        [sys.executable, "-m", "keras_ar.onnx", *args],
        env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout

