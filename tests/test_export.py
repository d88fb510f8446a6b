"""SavedModel export for serving: every family, loaded by TensorFlow alone.

Every tiny family is exported at least once per suite (module fixture):
on JAX (through jax2tf) one family of each kind of generation step, on
TensorFlow the families JAX leaves and Gated PixelCNN (class labels on both
routes). All the serving calls run in one child process that cannot import
keras, keras_ar, jax or torch (tests/export_worker.py). On torch, which
cannot write SavedModels, a torch-trained model goes through the CLI.
"""

import contextlib
import io
import os
import pickle
import re
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from tests.helpers import only_on
from tests.model_checks import all_inputs, assert_samples_follow
from tests.tiny_models import TINY_MODELS, build

BACKEND = keras.backend.backend()
EXPORTS = BACKEND in ("tensorflow", "jax")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "export_worker.py")
FAMILIES = sorted(TINY_MODELS)
# JAX's route (jax2tf) on one family of each kind of step: convolution
# caches with labels and a prefix, the logistic-mixture head, a recurrent
# state with a text prompt. The other families' steps are made of the same
# parts or go through TensorFlow's route only (test time: keras-hub's
# attention cache, MADE's whole-vector pass and its chi-square test).
# (PixelCNN++'s four-branch step costs about 30 s here, and twice that on
# TensorFlow's route.)
JAX_FAMILIES = ("gated_pixelcnn", "pixelcnn_plus_plus", "recurrent_lm")
# TensorFlow's route: the families JAX leaves (convolution caches, the
# recurrent states of the PixelRNNs, attention caches, WaveNet's queues,
# MADE and its chi-square test) and Gated PixelCNN (class labels and a
# prefix on this route too).
TF_FAMILIES = tuple(
    name for name in FAMILIES if name not in JAX_FAMILIES or name == "gated_pixelcnn"
)
EXPORTED = JAX_FAMILIES if BACKEND == "jax" else TF_FAMILIES
SEEDS = np.array([11, 11, 12, 13, 14, 15], "int32")
CHI_SQUARE_SAMPLES = 3000

pytestmark = pytest.mark.filterwarnings(
    # Keras' own JAX export passes jax2tf an argument JAX now deprecates.
    "ignore:The `native_serialization` parameter is deprecated:DeprecationWarning"
)
exporting = pytest.mark.skipif(
    not EXPORTS,
    reason="torch cannot write SavedModels (Keras 3.15); "
    "test_torch_model_exports_through_cli covers it",
)


def child_env(**extra):
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def serve_in_tensorflow(calls, folder):
    """Runs `calls` in the TensorFlow-only worker; returns their outputs."""
    calls_path, results_path = folder / "calls.pkl", folder / "results.pkl"
    with open(calls_path, "wb") as f:
        pickle.dump(calls, f)
    done = subprocess.run(
        [sys.executable, WORKER, str(calls_path), str(results_path)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(results_path, "rb") as f:
        answer = pickle.load(f)
    assert answer["imported"] == [], answer["imported"]
    for result in answer["results"]:
        assert "error" not in result, result["error"]
    return answer["results"]


class Case:
    """One exported family and the serving calls made on it."""

    def __init__(self, name, folder):
        self.name = name
        self.model, self.x, self.labels = build(name)
        if name == "made":
            # Far from uniform, for the chi-square test of the samples (the
            # trainable weights only: the masks stay).
            rng = np.random.default_rng(3)
            for w in self.model.trainable_weights:
                w.assign(rng.normal(0.0, 0.5, tuple(w.shape)).astype("float32"))
        self.path = str(folder / name)
        self.calls = {}
        self.prefix = self.model._serving_prefix()

    def data_labels(self):
        """The labels of `x` and of the two out-of-range rows."""
        if self.labels is None:
            return {}
        return {"labels": np.concatenate([self.labels, self.labels[:2]]).astype("int32")}

    def label_inputs(self, n, seeds=None):
        """Labels for n examples (from the seeds for generation: a seed
        gives one sample only together with its label)."""
        if self.labels is None:
            return {}
        base = np.arange(n) if seeds is None else seeds
        return {"labels": (base % self.model.num_classes).astype("int32")}

    def plan(self):
        """The calls to make: {key: (signature, inputs)}."""
        levels = self.model.levels
        x = self.x.astype("int32")
        bad = x[:2].copy()
        bad.reshape(2, -1)[0, 0] = levels  # out of range above
        bad.reshape(2, -1)[1, -1] = -1  # and below
        scored = np.concatenate([x, bad])
        calls = {
            "log_prob": ("log_prob", {"x": scored, **self.data_labels()}),
            "serve": ("serving_default", {"x": x, **self.label_inputs(len(x))}),
        }
        gen = {"temperature": np.float32(1.0)}
        calls["generate"] = (
            "generate",
            {"seed": SEEDS, **gen, **self.label_inputs(6, SEEDS)},
        )
        calls["generate_one"] = (
            "generate",
            {"seed": SEEDS[:1], **gen, **self.label_inputs(1, SEEDS[:1])},
        )
        if self.prefix is not None:
            name, length_name, _ = self.prefix
            # The batch of the "generate" call: a JAX export compiles once
            # per batch size when it runs.
            shape = (len(SEEDS),) + self.x.shape[1:]
            given = np.random.default_rng(5).integers(0, levels, shape).astype("int32")
            full = self.x.shape[1]  # rows or time steps
            lengths = np.array([1, 0, full] * (len(SEEDS) // 3), "int32")
            calls["generate_prefix"] = (
                "generate_from_prefix",
                {
                    "seed": SEEDS,
                    **gen,
                    **self.label_inputs(len(SEEDS), SEEDS),
                    name: given,
                    length_name: lengths,
                },
            )
        if self.name == "made":
            seeds = np.arange(CHI_SQUARE_SAMPLES, dtype="int32")
            calls["many"] = ("generate", {"seed": seeds, **gen})
        return calls


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Every family exported on this backend, and the answers of a
    TensorFlow-only process to the serving calls."""
    folder = tmp_path_factory.mktemp("exports")
    cases = {name: Case(name, folder) for name in EXPORTED}
    calls, keys = [], []
    for i, case in enumerate(cases.values()):
        # Both spellings: the default format and the explicit one (and the
        # default verbosity, which must print nothing).
        kwargs = {"format": "tf_saved_model"} if i % 2 else {}
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            case.model.export(case.path, **kwargs)
        case.printed = printed.getvalue()
        for key, (signature, inputs) in case.plan().items():
            calls.append((case.path, signature, inputs))
            keys.append((case.name, key, inputs))
    results = serve_in_tensorflow(calls, folder)
    for (name, key, inputs), result in zip(keys, results):
        cases[name].calls[key] = (inputs, result)
    return cases


def exported(served, name):
    if name not in served:
        pytest.skip(f"exported on the other backend ({BACKEND} exports {', '.join(served)})")
    return served[name]


def test_every_family_is_exported():
    assert set(JAX_FAMILIES) | set(TF_FAMILIES) == set(FAMILIES)


@exporting
@pytest.mark.parametrize("name", FAMILIES)
def test_log_prob_and_serve_match_the_model(served, name):
    case = exported(served, name)
    inputs, result = case.calls["log_prob"]
    expected = case.model.log_prob(case.x, labels=case.labels)
    got = result["log_prob"]
    assert got.dtype == np.float32 and got.shape == (len(case.x) + 2,)
    np.testing.assert_allclose(got[: len(case.x)], expected, atol=1e-4, rtol=1e-6)
    # Values outside [0, levels) score NaN, never a plausible number.
    assert np.all(np.isnan(got[len(case.x) :]))
    inputs, result = case.calls["serve"]
    (outputs,) = result.values()
    data = case.model.pack_inputs(inputs["x"], inputs.get("labels"))
    reference = keras.ops.convert_to_numpy(case.model(data, training=False))
    np.testing.assert_allclose(outputs, reference, atol=1e-4)


@exporting
@pytest.mark.parametrize("name", FAMILIES)
def test_generate_shapes_range_and_seeds(served, name):
    case = exported(served, name)
    assert case.printed == "", "export prints nothing unless verbose=True"
    _, result = case.calls["generate"]
    samples = result["samples"]
    assert samples.dtype == np.int32
    assert samples.shape == (len(SEEDS),) + case.x.shape[1:]
    assert samples.min() >= 0 and samples.max() < case.model.levels
    # The same seed, the same sample; other seeds, other samples.
    np.testing.assert_array_equal(samples[0], samples[1])
    assert any(not np.array_equal(samples[0], s) for s in samples[2:])
    # The batch is polymorphic and a sample depends on its own seed only.
    _, one = case.calls["generate_one"]
    np.testing.assert_array_equal(one["samples"], samples[:1])


@exporting
def test_generate_keeps_the_prefix(served):
    with_prefix = [case for case in served.values() if case.prefix is not None]
    # The image models, WaveNet, the text models (JAX: two image models
    # and RecurrentLM).
    assert len(with_prefix) >= (3 if BACKEND == "jax" else 4)
    for case in with_prefix:
        inputs, result = case.calls["generate_prefix"]
        given, samples = inputs[case.prefix[0]], result["samples"]
        assert samples.shape == given.shape, case.name
        assert samples.min() >= 0 and samples.max() < case.model.levels
        # Samples 0 and 3 keep one unit (a row, a step), 2 and 5 all of them.
        for b in (0, 3):
            np.testing.assert_array_equal(samples[b, :1], given[b, :1], err_msg=case.name)
        for b in (2, 5):
            np.testing.assert_array_equal(samples[b], given[b], err_msg=case.name)
        # A length of 0 keeps nothing: the samples of those seeds without one.
        unprefixed = case.calls["generate"][1]["samples"]
        for b in (1, 4):
            np.testing.assert_array_equal(samples[b], unprefixed[b], err_msg=case.name)


@exporting
def test_exported_samples_follow_the_model(served):
    case = exported(served, "made")
    _, result = case.calls["many"]
    inputs = all_inputs(case.model.event_shape, case.model.levels)
    probs = np.exp(case.model.log_prob(inputs))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-4)
    assert probs.max() / probs.min() > 10.0  # far from uniform
    assert_samples_follow(result["samples"], inputs, probs)


@only_on(
    "jax",
    "test time: the listing of JAX's route, whose shapes jax2tf makes "
    "polymorphic; TensorFlow's route declares the same input specs, and its "
    "serving calls above name every input",
)
def test_saved_model_cli_lists_the_signatures(served):
    case = served["gated_pixelcnn"]  # class-conditional, with a prefix
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--all", "--dir", case.path],
        capture_output=True,
        text=True,
        timeout=300,
        env=child_env(TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    signatures = parse_signatures(shown.stdout)
    assert {
        "serve",
        "serving_default",
        "log_prob",
        "generate",
        "generate_from_prefix",
    } <= set(signatures)
    image = "(-1, 3, 3, 1)"
    assert signatures["log_prob"]["inputs"] == {
        "x": ("DT_INT32", image),
        "labels": ("DT_INT32", "(-1)"),
    }
    assert signatures["log_prob"]["outputs"] == {"log_prob": ("DT_FLOAT", "(-1)")}
    # `generate` needs no prefix; `generate_from_prefix` continues one.
    assert signatures["generate"]["inputs"] == {
        "seed": ("DT_INT32", "(-1)"),
        "temperature": ("DT_FLOAT", "()"),
        "labels": ("DT_INT32", "(-1)"),
    }
    assert signatures["generate_from_prefix"]["inputs"] == {
        **signatures["generate"]["inputs"],
        "prefix": ("DT_INT32", image),
        "prefix_rows": ("DT_INT32", "(-1)"),
    }
    for name in ("generate", "generate_from_prefix"):
        assert signatures[name]["outputs"] == {"samples": ("DT_INT32", image)}
    for name in ("serve", "serving_default"):
        assert signatures[name]["inputs"]["x"] == ("DT_INT32", image)


def parse_signatures(text):
    """{signature: {"inputs"/"outputs": {name: (dtype, shape)}}} from
    `saved_model_cli show --all`."""
    signatures = {}
    pattern = re.compile(
        r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: ([^\n]+)"
    )
    for block in re.split(r"signature_def\['", text)[1:]:
        name, body = block.split("'", 1)
        entry = signatures.setdefault(name, {"inputs": {}, "outputs": {}})
        for kind, key, dtype, shape in pattern.findall(body):
            entry[kind][key] = (dtype, shape.strip())
    return signatures


@exporting
def test_export_arguments_are_checked(tmp_path):
    model, _, _ = build("made")
    with pytest.raises(ValueError, match="input_signature"):
        model.export(str(tmp_path / "a"), input_signature=[None])
    with pytest.raises(TypeError, match="generate_kwargs"):
        model.export(str(tmp_path / "b"), generate_kwargs=[1])
    from keras_ar.models import WaveNet

    free = WaveNet(levels=3, sequence_length=None, residual_channels=2,
                   skip_channels=2, dilations=[1])  # fmt: skip
    with pytest.raises(ValueError, match="`length` is required"):
        free.export(str(tmp_path / "c"))


def test_next_version_and_cli_arguments(tmp_path):
    from keras_ar.export.cli import export_keras_file, next_version

    assert next_version(str(tmp_path / "missing")) == 1
    for name in ("1", "3", "variables", "10x"):
        (tmp_path / name).mkdir()
    assert next_version(str(tmp_path)) == 4
    with pytest.raises(ValueError, match="backend"):
        export_keras_file("m.keras", str(tmp_path), backend="torch")
    with pytest.raises(ValueError, match="not a file"):
        export_keras_file(str(tmp_path / "none.keras"), str(tmp_path))
    model_file = tmp_path / "m.keras"
    model_file.write_bytes(b"")
    with pytest.raises(ValueError, match="not a zip archive"):
        export_keras_file(str(model_file), str(tmp_path))
    with zipfile.ZipFile(model_file, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ValueError, match="exists"):
        export_keras_file(str(model_file), str(tmp_path), version=3)


@pytest.mark.skipif(BACKEND != "torch", reason="the torch route (TF/JAX export directly)")
def test_torch_model_exports_through_cli(tmp_path):
    model, x, _ = build("made")
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.fit(x, epochs=2, batch_size=4, verbose=0)
    with pytest.raises(RuntimeError, match="python -m keras_ar.export"):
        model.export(str(tmp_path / "direct"))
    path = str(tmp_path / "made.keras")
    model.save(path)
    out = tmp_path / "serving" / "made"
    done = subprocess.run(
        [sys.executable, "-m", "keras_ar.export", path, str(out)],
        env=child_env(KERAS_BACKEND="torch"),  # the CLI re-runs itself on TF
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith(os.path.join("made", "1"))
    assert (out / "1" / "saved_model.pb").is_file()
    x = x.astype("int32")
    log_prob, samples = serve_in_tensorflow(
        [
            (str(out / "1"), "log_prob", {"x": x}),
            (str(out / "1"), "generate", {"seed": SEEDS, "temperature": np.float32(0.7)}),
        ],
        tmp_path,
    )
    np.testing.assert_allclose(log_prob["log_prob"], model.log_prob(x), atol=1e-4)
    assert samples["samples"].shape == (len(SEEDS), 5)
    np.testing.assert_array_equal(samples["samples"][0], samples["samples"][1])


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="a TensorFlow SavedModel's generate runs without XLA, where the "
    "caches are written in place",
)
def test_served_generate_writes_its_caches_in_place_safely(served, tmp_path, monkeypatch):
    """The served `generate` writes its caches in place: the samples the
    TensorFlow-only process drew from the module's export equal those of
    the same model exported with copies (a masked-convolution family with
    branches and a class label; every family's loop, StepBuffers included,
    is checked the same way in `tests/test_generation.py`)."""
    import tensorflow as tf

    from keras_ar.backend import slicing

    case = served["gated_pixelcnn"]
    inputs, in_place = case.calls["generate"]
    path = str(tmp_path / "copied")
    with monkeypatch.context() as patch:
        patch.setattr(slicing, "_tf_in_place", lambda: False)
        case.model.export(path, verbose=False)
    generate = tf.saved_model.load(path).signatures["generate"]
    copied = generate(**{k: tf.constant(v) for k, v in inputs.items()})["samples"]
    np.testing.assert_array_equal(in_place["samples"], copied.numpy())
