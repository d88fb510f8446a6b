"""Anomaly detection with likelihoods on Fashion-MNIST: raw NLL, likelihood
ratio and input complexity, in two protocols.

1. One-class novelty detection (`--protocol one_class`): one PixelCNN++
   per class, trained on that class's training images; its test images
   (normal) are scored against the other nine classes' test images
   (anomalies). AUROC per class and the mean over the classes, for the raw
   NLL and the input-complexity score (PNG, WebP, LZMA, and a local model:
   a PixelCNN over a 3x3 causal window trained on the same images, whose
   code length is the learned L(x); Zhang et al., 2021), next to a
   one-class SVM on raw pixels (scikit-learn) fitted on the same images.
2. Out-of-distribution inputs (`--protocol ood`): one PixelCNN++ on all of
   Fashion-MNIST, its test set (normal) against uniform noise, constant
   images, inverted and upside-down Fashion-MNIST and scikit-learn's 8x8
   digits (resized to 28x28, and MNIST-like: 20x20 centred on a black
   28x28). The raw NLL, the likelihood ratio with a background model
   trained on perturbed images (Ren et al., 2019) and the input-complexity
   score with PNG, WebP, LZMA and the local model (Serra et al., 2020) in
   one table.

Both protocols also report typicality (`keras_ar.anomaly.TypicalSet`): the
squared Mahalanobis distance of an image's scores to those of normal images
held out of every model's training (the last training images, or the
class's last ones), for the raw NLL alone (two-sided: Nalisnick et al.,
2019) and for the NLL with the PNG length (their joint density).

All images are 28x28 with 256 levels. Every score is oriented so that
higher means more anomalous (`keras_ar.anomaly.anomaly_score`).

Run:

    python recipes/anomaly_fashion_mnist.py --quick --out runs/anomaly_quick
    python recipes/anomaly_fashion_mnist.py --out runs/anomaly   # GPU

Outputs in --out: results.json and results.md (the tables), roc_ood_*.png
(ROC curves per score), heatmaps_nll.png and heatmaps_ratio.png (per-pixel
NLL and likelihood ratio of one image of each set), roc_one_class.png, and
the OOD protocol's model.keras, background.keras and local.keras.
"""

import os
import sys
import time

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common
from recipes.common.outputs import detection_table, write_results

RECIPE = "anomaly_fashion_mnist"
PROTOCOLS = ("both", "one_class", "ood")
ONE_CLASS_METHODS = (
    "nll", "complexity", "complexity_webp", "complexity_lzma", "complexity_local",
    "typicality_nll", "typicality_nll_png", "oc_svm",
)  # fmt: skip
METHODS = (
    "nll", "likelihood_ratio", "complexity", "complexity_webp", "complexity_lzma",
    "complexity_local", "typicality_nll", "typicality_nll_png",
)  # fmt: skip
#: The typicality columns: the scores each `TypicalSet` is fitted on.
TYPICALITY = {"typicality_nll": ("nll",), "typicality_nll_png": ("nll", "complexity")}
CLASS_NAMES = common.FASHION_MNIST_CLASSES

# Meant for a GPU: whole training sets, longer training.
_FULL = dict(
    image_size=28, levels=256, num_mixtures=5, num_filters=64, num_resnet=2,
    num_hierarchies=2, dropout_rate=0.3, learning_rate=1e-3, batch_size=64,
    epochs=20, one_class_epochs=20, train_limit=None, class_train_limit=None,
    test_limit=None, ood_limit=2000, mu=0.1, weight_decay=1e-4,
    background_epochs=20, classes=tuple(range(10)), sample_every=1,
    one_class_batch_size=64, one_class_learning_rate=1e-3,
    local_window=3, local_filters=32, local_epochs=3, local_learning_rate=3e-3,
    local_batch_size=64, reference_limit=1000,
)  # fmt: skip

PRESETS = {
    "full": _FULL,
    # Minutes on a CPU: the same data, small networks, a few thousand images,
    # 2-3 epochs (one-class: smaller batches, for more steps on fewer images).
    "quick": dict(
        _FULL, num_filters=16, num_resnet=1, dropout_rate=0.0, learning_rate=2e-3,
        epochs=2, one_class_epochs=3, train_limit=4000, class_train_limit=640,
        test_limit=1000, ood_limit=500, background_epochs=2,
        one_class_batch_size=32, one_class_learning_rate=3e-3, local_batch_size=32,
        reference_limit=500,
    ),
    # A few batches of a tiny model, for the tests.
    "tiny": dict(
        image_size=8, levels=256, num_mixtures=2, num_filters=4, num_resnet=1,
        num_hierarchies=1, dropout_rate=0.0, learning_rate=1e-3, batch_size=16,
        epochs=1, one_class_epochs=1, train_limit=32, class_train_limit=16,
        test_limit=20, ood_limit=8, mu=0.1, weight_decay=0.0,
        background_epochs=1, classes=(1,), sample_every=1,
        one_class_batch_size=16, one_class_learning_rate=1e-3,
        local_window=3, local_filters=4, local_epochs=1, local_learning_rate=1e-3,
        local_batch_size=16, reference_limit=8,
    ),
}  # fmt: skip


def positive_int(text):
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an int: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text):
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {value}")
    return value


def build_parser():
    parser = common.fashion_mnist_parser(__doc__, RECIPE)
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="both",
        help="one-class novelty detection, out-of-distribution sets, or both",
    )
    parser.add_argument(
        "--classes",
        type=int,
        nargs="+",
        choices=range(10),
        metavar="CLASS",
        help="the one-class protocol's normal classes, 0-9 (default: the mode's)",
    )
    parser.add_argument(
        "--class-train-limit",
        type=positive_int,
        help="train each one-class model on the first N training images of "
        "its class (default: the mode's; 6000 takes them all)",
    )
    parser.add_argument(
        "--learning-rate",
        type=positive_float,
        help="override the mode's learning rates (every model)",
    )
    parser.add_argument(
        "--test-limit",
        type=positive_int,
        help="score the first N test images (default: the mode's)",
    )
    return parser


def build_model(settings, learning_rate=None):
    from keras_ar.models.pixelcnn_plus_plus import PixelCNNPlusPlus

    side = settings["image_size"]
    model = PixelCNNPlusPlus(
        image_shape=(side, side, 1),
        levels=settings["levels"],
        num_mixtures=settings["num_mixtures"],
        num_filters=settings["num_filters"],
        num_resnet=settings["num_resnet"],
        num_hierarchies=settings["num_hierarchies"],
        dropout_rate=settings["dropout_rate"],
    )
    rate = settings["learning_rate"] if learning_rate is None else learning_rate
    return common.compile_adam(model, {"learning_rate": rate})


def train(run, model, x, epochs, batch_size=None):
    t0 = time.perf_counter()
    history = model.fit(
        x, batch_size=batch_size or run.settings["batch_size"], epochs=epochs,
        shuffle=True,
        verbose=run.args.verbose,
    )  # fmt: skip
    return {
        "final_train_bits_per_dim": float(history.history["bits_per_dim"][-1]),
        "train_seconds": time.perf_counter() - t0,
    }


# -- out-of-distribution sets ------------------------------------------------
def resize(images, size):
    """Float images `(N, h, w)` in [0, 255] resized with Pillow (bilinear)."""
    from PIL import Image

    return [
        Image.fromarray(image.astype("float32"), mode="F").resize(
            (size, size), Image.BILINEAR
        )
        for image in images
    ]


def digits_sets(side, levels, limit):
    """scikit-learn's 8x8 digits (0..16) at `levels` levels: resized to
    side x side, and MNIST-like (resized to 5/7 of the side, centred on
    black)."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits().images[:limit] * (255.0 / 16.0)
    scale = (levels - 1) / 255.0

    def to_levels(images):
        arrays = np.stack([np.asarray(image) for image in images])
        return np.clip(np.rint(arrays * scale), 0, levels - 1).astype("int32")

    full = to_levels(resize(digits, side))
    inner = max(round(side * 20 / 28), 1)
    small = to_levels(resize(digits, inner))
    framed = np.zeros((len(digits), side, side), "int32")
    top = (side - inner) // 2
    framed[:, top : top + inner, top : top + inner] = small
    return full[..., None], framed[..., None]


def ood_sets(x_test, settings, rng):
    import numpy as np

    levels, limit = settings["levels"], settings["ood_limit"]
    base = x_test[:limit]
    shape = (limit,) + x_test.shape[1:]
    digits, digits_mnist_like = digits_sets(settings["image_size"], levels, limit)
    constant = np.broadcast_to(rng.integers(0, levels, (limit, 1, 1, 1)), shape).astype(
        "int32"
    )
    return {
        "uniform noise": rng.integers(0, levels, shape).astype("int32"),
        "constant images": constant,
        "inverted Fashion-MNIST": (levels - 1 - base).astype("int32"),
        "upside-down Fashion-MNIST": base[:, ::-1].copy(),
        "digits (8x8 resized to 28x28)": digits,
        "digits, MNIST-like (20x20 on 28x28)": digits_mnist_like,
    }


def with_other_codecs(scores, x, levels, local, batch_size):
    """Adds the complexity score with WebP, LZMA and the local model (the
    raw NLL minus L(x) / dims; `scores["complexity"]` is PNG's)."""
    from keras_ar import anomaly

    dims = x[0].size
    for name, codec in (("webp", "webp"), ("lzma", "lzma"), ("local", local)):
        bits = anomaly.compressed_bits(x, codec, levels, batch_size)
        scores = {**scores, f"complexity_{name}": scores["nll"] - bits / dims}
    return scores


def typical_sets(model, reference, settings):
    """One `TypicalSet` per typicality column, fitted on the scores of
    `reference`: normal images held out of every model's training. (Its
    scores, the NLL and PNG's complexity, are `anomaly_scores`' own: the
    other codecs are not run on the reference.)"""
    from keras_ar import anomaly

    scores = anomaly.anomaly_scores(model, reference, batch_size=settings["batch_size"])
    return {
        name: anomaly.TypicalSet().fit({k: scores[k] for k in keys})
        for name, keys in TYPICALITY.items()
    }


def with_typicality(scores, typical):
    """Adds each typicality column: the squared Mahalanobis distance of the
    image's scores to those of the held-out normal images."""
    return {
        **scores,
        **{name: t.score({k: scores[k] for k in t.names}) for name, t in typical.items()},
    }


def train_local(run, model, x):
    """The local model (a PixelCNN over a small causal window) fitted on
    the same images as `model`: the learned codec of "complexity_local"."""
    from keras_ar import anomaly

    settings = run.settings
    t0 = time.perf_counter()
    local = anomaly.train_local_model(
        model, x, window=settings["local_window"], filters=settings["local_filters"],
        epochs=settings["local_epochs"], batch_size=settings["local_batch_size"],
        learning_rate=settings["local_learning_rate"], verbose=run.args.verbose,
    )  # fmt: skip
    return local, {
        "local_train_seconds": time.perf_counter() - t0,
        "local_final_train_bits_per_dim": float(
            local.history.history["bits_per_dim"][-1]
        ),
    }


def ood_protocol(run, x_train, x_test, results):
    import numpy as np

    from keras_ar import anomaly

    settings = run.settings
    rng = np.random.default_rng(run.args.seed)
    x_in = x_test[: settings["test_limit"]]
    sets = ood_sets(x_test, settings, rng)
    # The typicality columns' reference: the last training images, held out
    # of every model's training.
    reference = x_train[-settings["reference_limit"] :]
    x_fit = x_train[: -settings["reference_limit"]][: settings["train_limit"]]
    run.log(f"OOD: training the model on {len(x_fit)} images")
    model = build_model(settings)
    training = train(run, model, x_fit, settings["epochs"])
    run.log(f"OOD: training the background model (mu={settings['mu']})")
    t0 = time.perf_counter()
    background = anomaly.train_background_model(
        model, x_fit, mu=settings["mu"], epochs=settings["background_epochs"],
        batch_size=settings["batch_size"], learning_rate=settings["learning_rate"],
        weight_decay=settings["weight_decay"], seed=run.args.seed,
        verbose=run.args.verbose,
    )  # fmt: skip
    training["background_train_seconds"] = time.perf_counter() - t0
    training["background_final_train_bits_per_dim"] = float(
        background.history.history["bits_per_dim"][-1]
    )
    run.log(f"OOD: training the local model (window {settings['local_window']})")
    local, local_training = train_local(run, model, x_fit)
    training.update(local_training)
    batch = settings["batch_size"]
    for name, saved in (
        ("model.keras", model), ("background.keras", background), ("local.keras", local)
    ):  # fmt: skip
        saved.save(run.path(name))
        run.paths.append(run.path(name))
    levels = settings["levels"]
    typical = typical_sets(model, reference, settings)
    in_scores = with_typicality(with_other_codecs(
        anomaly.anomaly_scores(model, x_in, background, batch_size=batch),
        x_in, levels, local, batch,
    ), typical)  # fmt: skip
    rows = {}
    out_scores = {}
    for name, x_out in sets.items():
        out_scores[name] = with_typicality(with_other_codecs(
            anomaly.anomaly_scores(model, x_out, background, batch_size=batch),
            x_out, levels, local, batch,
        ), typical)  # fmt: skip
        rows[name] = {
            "num_images": len(x_out),
            "mean_nll_bits_per_dim": float(out_scores[name]["nll"].mean()),
            **{
                method: anomaly.detection_metrics(
                    in_scores[method], out_scores[name][method]
                )
                for method in METHODS
            },
        }
        run.log(
            f"{name}: AUROC nll {rows[name]['nll']['auroc']:.3f}, ratio "
            f"{rows[name]['likelihood_ratio']['auroc']:.3f}, complexity "
            f"{rows[name]['complexity']['auroc']:.3f} (PNG), "
            f"{rows[name]['complexity_webp']['auroc']:.3f} (WebP), "
            f"{rows[name]['complexity_lzma']['auroc']:.3f} (LZMA), "
            f"{rows[name]['complexity_local']['auroc']:.3f} (local model), "
            f"typicality {rows[name]['typicality_nll']['auroc']:.3f} (NLL), "
            f"{rows[name]['typicality_nll_png']['auroc']:.3f} (NLL, PNG)"
        )
    results["ood"] = {
        "num_train": len(x_fit),
        "num_test": len(x_in),
        "num_reference": len(reference),
        "test_mean_nll_bits_per_dim": float(in_scores["nll"].mean()),
        "parameters": model.count_params(),
        **training,
        "sets": rows,
    }
    for method in METHODS:
        curves = {name: (in_scores[method], out_scores[name][method]) for name in sets}
        run.paths.append(
            anomaly.plot_roc_curves(
                curves, run.path(f"roc_ood_{method}.png"), title=f"score: {method}"
            )
        )
    # One image of each set, and where each is (un)likely.
    names = ["Fashion-MNIST test"] + list(sets)
    images = np.concatenate([x_in[:1]] + [x[:1] for x in sets.values()])
    run.paths.append(
        anomaly.plot_heatmaps(
            images, anomaly.nll_map(model, images), run.path("heatmaps_nll.png"),
            levels=settings["levels"], titles=_short(names),
        )
    )  # fmt: skip
    run.paths.append(
        anomaly.plot_heatmaps(
            images, anomaly.likelihood_ratio_map(model, background, images),
            run.path("heatmaps_ratio.png"), levels=settings["levels"],
            titles=_short(names), label="log p - log p_background (bits)",
        )
    )  # fmt: skip


def _short(names):
    return [name.split(" (")[0].replace("Fashion-MNIST", "FMNIST") for name in names]


# -- one-class novelty detection ---------------------------------------------
def one_class_protocol(run, data, results, save):
    import numpy as np
    from sklearn.svm import OneClassSVM

    from keras_ar import anomaly

    (x_train, y_train), (x_test, y_test) = data
    settings = run.settings
    x_eval, y_eval = x_test[: settings["test_limit"]], y_test[: settings["test_limit"]]
    rows, curves = {}, {}
    for label in settings["classes"]:
        # The class's last training images are the typicality reference,
        # held out of training.
        x_all = x_train[y_train == label]
        reference = x_all[-settings["reference_limit"] :]
        x_class = x_all[: -settings["reference_limit"]][: settings["class_train_limit"]]
        if len(x_class) == 0:
            raise ValueError(
                f"class {CLASS_NAMES[label]} has {len(x_all)} training images: none "
                f"left to train on after the {settings['reference_limit']} held out "
                "as the typicality reference"
            )
        run.log(f"one-class: {CLASS_NAMES[label]} ({len(x_class)} training images)")
        model = build_model(settings, settings["one_class_learning_rate"])
        training = train(
            run, model, x_class, settings["one_class_epochs"],
            settings["one_class_batch_size"],
        )  # fmt: skip
        local, local_training = train_local(run, model, x_class)
        training.update(local_training)
        normal = y_eval == label
        batch = settings["batch_size"]
        scores = with_typicality(with_other_codecs(
            anomaly.anomaly_scores(model, x_eval, batch_size=batch),
            x_eval, settings["levels"], local, batch,
        ), typical_sets(model, reference, settings))  # fmt: skip
        scale = settings["levels"] - 1
        svm = OneClassSVM(gamma="scale", nu=0.1).fit(
            x_class.reshape(len(x_class), -1) / scale
        )
        scores["oc_svm"] = -svm.score_samples(x_eval.reshape(len(x_eval), -1) / scale)
        rows[CLASS_NAMES[label]] = {
            "num_train": len(x_class),
            "num_reference": len(reference),
            "num_normal": int(normal.sum()),
            "num_anomalies": int((~normal).sum()),
            **training,
            **{
                m: anomaly.detection_metrics(s[normal], s[~normal])
                for m, s in scores.items()
            },
        }
        curves[CLASS_NAMES[label]] = (scores["nll"][normal], scores["nll"][~normal])
        run.log(
            f"  AUROC nll {rows[CLASS_NAMES[label]]['nll']['auroc']:.3f}, complexity "
            f"{rows[CLASS_NAMES[label]]['complexity']['auroc']:.3f} (PNG), "
            f"{rows[CLASS_NAMES[label]]['complexity_webp']['auroc']:.3f} (WebP), "
            f"{rows[CLASS_NAMES[label]]['complexity_lzma']['auroc']:.3f} (LZMA), "
            f"{rows[CLASS_NAMES[label]]['complexity_local']['auroc']:.3f} (local model), "
            f"typicality {rows[CLASS_NAMES[label]]['typicality_nll']['auroc']:.3f} (NLL), "
            f"{rows[CLASS_NAMES[label]]['typicality_nll_png']['auroc']:.3f} (NLL, PNG), OC-SVM "
            f"{rows[CLASS_NAMES[label]]['oc_svm']['auroc']:.3f}"
        )
        means = {
            m: float(np.mean([row[m]["auroc"] for row in rows.values()]))
            for m in ONE_CLASS_METHODS
        }
        results["one_class"] = {"classes": rows, "mean_auroc": means}
        save()  # the classes done so far, should the run be stopped
    run.paths.append(
        anomaly.plot_roc_curves(
            curves, run.path("roc_one_class.png"), title="one-class, raw NLL"
        )
    )


# -- tables -------------------------------------------------------------------
LABELS = {
    "nll": "raw NLL",
    "likelihood_ratio": "likelihood ratio",
    "complexity": "complexity (PNG)",
    "complexity_webp": "complexity (WebP)",
    "complexity_lzma": "complexity (LZMA)",
    "complexity_local": "complexity (local model)",
    "typicality_nll": "typicality (NLL)",
    "typicality_nll_png": "typicality (NLL, PNG length)",
    "oc_svm": "OC-SVM (raw pixels)",
}


def markdown(results, settings):
    lines = []
    if "ood" in results:
        ood = results["ood"]
        lines += [
            f"Out-of-distribution: model trained on {ood['num_train']} Fashion-MNIST "
            f"images, {ood['num_test']} test images as normal; test NLL "
            f"{ood['test_mean_nll_bits_per_dim']:.3f} bits/dim.",
            "",
            *detection_table(
                ood["sets"], METHODS, LABELS, "mean_nll_bits_per_dim", "OOD set", "bits/dim"
            ),
            "",
        ]
    if "one_class" in results:
        one = results["one_class"]
        methods = ONE_CLASS_METHODS
        lines += [
            "One-class novelty detection (AUROC; normal: the class's test images, "
            "anomalies: the other classes' test images):",
            "",
            "| class | " + " | ".join(LABELS[m] for m in methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        for name, row in one["classes"].items():
            lines.append(
                f"| {name} | "
                + " | ".join(f"{row[m]['auroc']:.3f}" for m in methods)
                + " |"
            )
        lines.append(
            "| **mean** | "
            + " | ".join(f"**{one['mean_auroc'][m]:.3f}**" for m in methods)
            + " |"
        )
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    run = common.Run(RECIPE, build_parser(), PRESETS, argv)
    settings = run.settings
    if run.args.epochs is not None:
        settings["one_class_epochs"] = settings["background_epochs"] = run.args.epochs
    if run.args.classes is not None:
        settings["classes"] = tuple(run.args.classes)
    if run.args.test_limit is not None:
        settings["test_limit"] = run.args.test_limit
    if run.args.class_train_limit is not None:
        settings["class_train_limit"] = run.args.class_train_limit
    if run.args.learning_rate is not None:
        settings["learning_rate"] = run.args.learning_rate
        settings["one_class_learning_rate"] = run.args.learning_rate
    data = _load(run)
    results = {}

    def save():
        return write_results(run, results, markdown(results, run.settings))

    if run.args.protocol in ("both", "ood"):
        ood_protocol(run, data[0][0], data[1][0], results)
        save()
    if run.args.protocol in ("both", "one_class"):
        one_class_protocol(run, data, results, save)
    json_path, md_path, payload = save()
    print(markdown(results, settings))
    common.print_outputs([json_path, md_path, *run.paths])
    return {"results": json_path, "table": md_path, "metrics": payload}


def _load(run):
    settings = dict(run.settings, train_limit=None, test_limit=None, pad_to=None)
    saved = run.settings
    run.settings = settings
    try:
        return common.load_fashion_mnist(run)
    finally:
        run.settings = saved


if __name__ == "__main__":
    main(sys.argv[1:])
