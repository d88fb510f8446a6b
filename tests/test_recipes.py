"""End-to-end runs of the chapter-5 recipes (`recipes/`) in --tiny mode.

Each recipe runs in-process on fixtures written here (a small Fashion-MNIST
in IDX files, a small Epicurious JSON in the Kaggle schema), and its outputs
are checked: metrics.json holds the keys and finite numbers, the reported
test NLL is what the saved model gives, model.keras reloads with identical
log_prob, the PNGs are valid, the text samples hold the prompt.
"""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_ar.datasets.fashion_mnist import load_fashion_mnist_for_pixelcnn
from recipes import (
    anomaly_recipes_text,
    common,
    gated_pixelcnn_fashion_mnist,
    lstm_recipes,
    pixelcnn_fashion_mnist,
    pixelcnn_mixture_fashion_mnist,
    pixelrnn_fashion_mnist,
    pixelsnail_fashion_mnist,
    transformer_recipes,
)
from recipes.common.text import BOOK_PROMPTS, SAMPLE_TEMPERATURES
from tests.helpers import write_fashion_mnist

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The recipes drive the library through its public API, which every backend's
# run of the other tests checks: the book's PixelCNN recipe runs on all three,
# the others on PyTorch alone, whose tiny runs take a second where JAX
# compiles for ten (the test budget).
on_torch = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="test budget: the recipe runs on PyTorch; the PixelCNN recipe on all",
)
COMMON_KEYS = {
    "recipe", "mode", "backend", "keras_version", "args", "settings",
    "history", "epochs_run", "time_per_epoch_s", "mean_time_per_epoch_s",
    "wall_time_s", "process_cpu_time_s",
}  # fmt: skip


@pytest.fixture(scope="module")
def fashion_dir(tmp_path_factory):
    """64 training and 32 test images, with labels."""
    return write_fashion_mnist(tmp_path_factory.mktemp("fashion"), 64, 32)


@pytest.fixture(scope="module")
def recipes_json(tmp_path_factory):
    """Twelve recipes in the Kaggle `full_format_recipes.json` schema, plus
    the records the loader must skip (empty, null title, no directions)."""
    words = (
        "chop the onion and garlic . heat oil in a pan , add 1 / 2 cup "
        "butter and stir until golden . season with salt and pepper , then "
        "bake for 20 minutes . serve warm with cream"
    ).split()
    rng = np.random.default_rng(1)
    records = []
    for i in range(12):
        steps = [" ".join(rng.choice(words, size=12)) for _ in range(2)]
        records.append(
            {
                "title": f"Roasted Vegetables {i} ",
                "directions": steps,
                "ingredients": ["1 onion", "2 cloves garlic"],
                "categories": ["Vegetable"],
                "rating": 4.375,
                "calories": 120.0,
            }
        )
    records += [
        {},
        {"title": None, "directions": ["Mix."]},
        {"title": "Empty", "directions": []},
    ]
    path = tmp_path_factory.mktemp("epicurious") / "full_format_recipes.json"
    path.write_text(json.dumps(records))
    return path


def run_recipe(module, tmp_path, data, capsys):
    out = tmp_path / "out"
    result = module.main(
        ["--tiny", "--data", str(data), "--out", str(out), "--verbose", "0"]
    )
    printed = capsys.readouterr().out
    return out, result, printed


def check_metrics(path, extra_keys):
    with open(path) as f:
        metrics = json.load(f)
    missing = (COMMON_KEYS | set(extra_keys)) - set(metrics)
    assert not missing, f"metrics.json lacks {sorted(missing)}"
    assert metrics["backend"] == keras.backend.backend()
    assert metrics["keras_version"] == keras.__version__
    assert metrics["mode"] == "tiny"
    epochs = metrics["settings"]["epochs"]
    assert metrics["epochs_run"] == epochs == len(metrics["time_per_epoch_s"])
    assert "loss" in metrics["history"] and "val_loss" in metrics["history"]
    for key, values in metrics["history"].items():
        assert len(values) == epochs, key
        assert all(v is not None and math.isfinite(v) for v in values), key
    for key in ("wall_time_s", "mean_time_per_epoch_s", *extra_keys):
        assert isinstance(metrics[key], (int, float)) and math.isfinite(metrics[key]), (
            key
        )
    assert metrics["wall_time_s"] > 0
    return metrics


def check_png(path):
    assert os.path.getsize(path) > 100
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 10 and image.shape[1] > 10


def check_image_recipe(out, result, printed, labels=False):
    metrics = check_metrics(out / "metrics.json", ["test_bits_per_dim", "parameters"])
    for name in ("samples.png", "training_curve.png"):
        check_png(out / name)
    during = sorted(os.listdir(out / "samples"))
    assert during == ["epoch_001.png", "epoch_002.png"]
    # The run ends by printing where samples.png is.
    assert printed.rstrip().splitlines()[-1].endswith(str(out / "samples.png"))

    # model.keras reloads into the same distribution, and the reported test
    # NLL is the saved model's bits/dim on the recipe's test images.
    trained = result["trained_model"]
    loaded = keras.saving.load_model(out / "model.keras")
    assert type(loaded) is type(trained)
    settings = metrics["settings"]
    (_, _), (x_test, y_test) = load_fashion_mnist_for_pixelcnn(
        size=settings["image_size"], levels=settings["levels"],
        pad_to=settings.get("pad_to"), path=metrics["args"]["data"],
    )  # fmt: skip
    x_test = x_test[: settings["test_limit"]]
    y_test = y_test[: settings["test_limit"]].astype("int32") if labels else None
    log_prob = loaded.log_prob(x_test, labels=y_test)
    np.testing.assert_allclose(
        log_prob, trained.log_prob(x_test, labels=y_test), rtol=1e-5, atol=1e-5
    )
    bits = -log_prob.mean() / x_test[0].size / math.log(2.0)
    np.testing.assert_allclose(metrics["test_bits_per_dim"], bits, rtol=1e-4)
    # A model that learnt nothing would sit at log2(levels).
    assert 0.0 < metrics["test_bits_per_dim"] < 3 * math.log2(settings["levels"])
    return metrics, loaded


def run_image_recipe(module, tmp_path, data, capsys, labels=False):
    """Runs an image recipe (--tiny) and checks what it wrote: the metrics
    and the reloaded model."""
    out, result, printed = run_recipe(module, tmp_path, data, capsys)
    return check_image_recipe(out, result, printed, labels=labels)


def check_tiny_samples(model, levels=4):
    """Samples of a --tiny (8x8) model are valid images."""
    images = model.generate(num_samples=2, seed=0)
    assert images.shape == (2, 8, 8, 1) and images.min() >= 0 and images.max() < levels


def test_pixelcnn_recipe(fashion_dir, tmp_path, capsys):
    metrics, loaded = run_image_recipe(
        pixelcnn_fashion_mnist, tmp_path, fashion_dir, capsys
    )
    assert metrics["history"]["bits_per_dim"][-1] > 0
    # Samples drawn from the reloaded model are valid images.
    check_tiny_samples(loaded)


@on_torch
def test_pixelcnn_mixture_recipe(fashion_dir, tmp_path, capsys):
    metrics, loaded = run_image_recipe(
        pixelcnn_mixture_fashion_mnist, tmp_path, fashion_dir, capsys
    )
    assert metrics["settings"]["levels"] == 256
    assert loaded.num_mixtures == metrics["settings"]["num_mixtures"]


@on_torch
def test_gated_pixelcnn_recipe(fashion_dir, tmp_path, capsys):
    metrics, loaded = run_image_recipe(
        gated_pixelcnn_fashion_mnist, tmp_path, fashion_dir, capsys, labels=True
    )
    assert loaded.num_classes == 10
    assert metrics["class_names"][0] == "T-shirt/top"


@on_torch
def test_pixelrnn_recipe(fashion_dir, tmp_path, capsys):
    metrics, loaded = run_image_recipe(
        pixelrnn_fashion_mnist, tmp_path, fashion_dir, capsys
    )
    assert loaded.kind == metrics["settings"]["kind"] == "diagonal_bilstm"
    check_tiny_samples(loaded)


@on_torch
def test_pixelsnail_recipe(fashion_dir, tmp_path, capsys):
    metrics, loaded = run_image_recipe(
        pixelsnail_fashion_mnist, tmp_path, fashion_dir, capsys
    )
    assert loaded.head_type == "categorical" and loaded.levels == 4
    assert metrics["settings"]["num_blocks"] == loaded.num_blocks
    # --levels 256 switches to the 28x28 mixture settings of the same mode.
    parser = pixelsnail_fashion_mnist.build_parser()
    assert parser.parse_args(["--levels", "256"]).levels == 256
    quick = pixelsnail_fashion_mnist.PRESETS[256]["quick"]
    assert (quick["image_size"], quick["distribution"]) == (28, "mixture")


@on_torch
@pytest.mark.parametrize(
    "recipe", [lstm_recipes, transformer_recipes], ids=["lstm", "transformer"]
)
def test_text_recipe(recipe, recipes_json, tmp_path, capsys):
    out, result, printed = run_recipe(recipe, tmp_path, recipes_json, capsys)
    metrics = check_metrics(
        out / "metrics.json", ["val_perplexity", "vocabulary_size", "parameters"]
    )
    # 12 usable recipes (three malformed ones skipped): 20% held out.
    assert metrics["num_recipes"] == 12
    assert (metrics["num_train"], metrics["num_val"]) == (10, 2)
    # Perplexity of a proper distribution over the vocabulary: above 1, and
    # near (not far above) the vocabulary size for a barely trained model.
    assert 1.0 < metrics["val_perplexity"] < 2 * metrics["vocabulary_size"]
    assert "val_perplexity" in metrics["history"]

    samples = (out / "samples.txt").read_text()
    for t in SAMPLE_TEMPERATURES:
        assert f"=== temperature {t} ===" in samples
    assert samples.count("recipe for") >= len(SAMPLE_TEMPERATURES)
    probs = (out / "next_word_probs.txt").read_text()
    for prompt in BOOK_PROMPTS:
        assert prompt in probs
    assert "%" in probs
    during = (out / "generated_during_training.txt").read_text()
    assert during.startswith("epoch 1: recipe for") and "epoch 2: recipe for" in during
    # Each sample says whether it ended; the reloaded model.keras wrote one.
    per_temperature = metrics["settings"]["samples_per_temperature"]
    assert samples.count("[ended after ") + samples.count(
        "[no end within "
    ) == per_temperature * len(SAMPLE_TEMPERATURES)
    assert 0.0 <= metrics["samples_ended"] <= 1.0
    assert "=== model.keras reloaded" in samples
    assert not (out / "vocabulary.txt").exists()
    check_png(out / "training_curve.png")
    assert printed.rstrip().splitlines()[-1].endswith(str(out / "samples.txt"))

    # model.keras reloads with identical log_prob and, with no side files,
    # the same text generation (the vectorizer travels inside it).
    trained = result["trained_model"]
    loaded = keras.saving.load_model(out / "model.keras")
    ids = trained.encode("recipe for roasted vegetables | chop the onion .")
    x = np.zeros((2, metrics["settings"]["sequence_length"]), "int32")
    x[0, : len(ids)] = ids
    x[1, :3] = ids[:3]
    np.testing.assert_allclose(
        loaded.log_prob(x), trained.log_prob(x), rtol=1e-5, atol=1e-5
    )
    assert loaded.tokenizer.get_vocabulary()[:2] == ["", "[UNK]"]
    assert len(loaded.tokenizer.get_vocabulary()) == metrics["vocabulary_size"]
    np.testing.assert_array_equal(loaded.encode("recipe for"), trained.encode("recipe for"))


@on_torch
def test_text_anomaly_recipe(recipes_json, tmp_path, capsys):
    import argparse

    from keras_ar import anomaly
    from recipes.common.text import load_data

    out, result, printed = run_recipe(anomaly_recipes_text, tmp_path, recipes_json, capsys)
    metrics = result["metrics"]
    assert (metrics["num_train"], metrics["num_test"]) == (10, 2)
    assert list(metrics["sets"]) == list(anomaly_recipes_text.SETS)
    for name, row in metrics["sets"].items():
        for method in anomaly_recipes_text.METHODS:
            assert 0.0 <= row[method]["auroc"] <= 1.0, (name, method)
    table = (out / "results.md").read_text()
    assert all(f"| {name} |" in table for name in anomaly_recipes_text.SETS)
    for method in anomaly_recipes_text.METHODS:
        check_png(out / f"roc_{method}.png")
    report = (out / "token_nll.txt").read_text()
    assert report.count("=== ") == 1 + len(anomaly_recipes_text.SETS)

    # The same held-out recipes again (same seed and split): the reported
    # NLL is the saved model's, and the anomalous sets are what they say.
    settings = metrics["settings"]
    args = argparse.Namespace(data=str(recipes_json), seed=metrics["args"]["seed"])
    vectorizer, _, x_test, _ = load_data(args, settings)
    model = keras.saving.load_model(out / "model.keras")
    np.testing.assert_allclose(
        anomaly.nll_bits_per_dim(model, x_test).mean(),
        metrics["test_mean_nll_bits_per_token"], rtol=1e-5,
    )  # fmt: skip
    vocab_size = len(vectorizer.get_vocabulary())
    sets = anomaly_recipes_text.anomalous_sets(
        x_test, vectorizer, vocab_size, np.random.default_rng(0)
    )
    lengths = anomaly_recipes_text.text_lengths(x_test)
    for i, n in enumerate(lengths):
        words = x_test[i, :n]
        np.testing.assert_array_equal(np.sort(sets["shuffled"][i, :n]), np.sort(words))
        np.testing.assert_array_equal(sets["reversed"][i, :n], words[::-1])
        assert np.all((sets["random words"][i, :n] >= 2) & (sets["random words"][i, :n] < vocab_size))
        np.testing.assert_array_equal(sets["repeated"][i, :n], np.resize(words[:10], n))
        for name in ("shuffled", "reversed", "random words", "repeated"):
            assert np.all(sets[name][i, n:] == 0), name
    docs = sets["Python docs"]
    assert docs.shape == x_test.shape and docs.min() >= 0 and docs.max() < vocab_size
    assert np.all(anomaly_recipes_text.text_lengths(docs) >= min(20, docs.shape[1]))


def test_backend_flag_cannot_switch_an_imported_keras():
    other = next(b for b in common.BACKENDS if b != keras.backend.backend())
    with pytest.raises(ValueError, match="--backend"):
        common.select_backend(other)
    assert common.select_backend(None) == keras.backend.backend()
    assert common.select_backend(keras.backend.backend()) == keras.backend.backend()


def test_parser_rejects_bad_overrides(capsys):
    parser = pixelcnn_fashion_mnist.build_parser()
    with pytest.raises(SystemExit):
        common.parse_args(parser, ["--epochs", "0"])
    assert "--epochs must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        common.parse_args(parser, ["--quick", "--tiny"])
    args = common.parse_args(parser, ["--quick", "--epochs", "3"])
    settings = common.settings_for(args, pixelcnn_fashion_mnist.PRESETS)
    assert settings["epochs"] == 3 and settings["filters"] == 64
    full = common.settings_for(
        common.parse_args(parser, []), pixelcnn_fashion_mnist.PRESETS
    )
    # The book's settings are the default.
    assert (full["image_size"], full["levels"], full["filters"]) == (16, 4, 128)
    assert (full["num_residual_blocks"], full["epochs"], full["batch_size"]) == (
        5,
        150,
        128,
    )


def test_recipe_scripts_run_as_scripts():
    # Run as `python recipes/x.py`: the script makes `recipes` importable
    # itself; --help imports no Keras, so this is quick.
    for name in (
        "pixelcnn_fashion_mnist",
        "pixelcnn_mixture_fashion_mnist",
        "gated_pixelcnn_fashion_mnist",
        "pixelrnn_fashion_mnist",
        "pixelsnail_fashion_mnist",
        "lstm_recipes",
        "transformer_recipes",
        "anomaly_recipes_text",
    ):
        proc = subprocess.run(
            [sys.executable, os.path.join(REPO, "recipes", f"{name}.py"), "--help"],
            capture_output=True, text=True, cwd="/", timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "--quick" in proc.stdout and "--backend" in proc.stdout


def test_keras_ar_does_not_import_recipes():
    for root, _, files in os.walk(os.path.join(REPO, "keras_ar")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(root, name)) as f:
                    source = f.read()
                assert (
                    "import recipes" not in source and "from recipes" not in source
                ), name
