"""Class-conditional Gated PixelCNN on Fashion-MNIST.

Goes one step past "Generative Deep Learning" (2nd ed.), ch. 5: the book's
data pipeline (16x16 images, 4 intensity levels) with the Gated PixelCNN of
van den Oord et al. (2016), "Conditional Image Generation with PixelCNN
Decoders": vertical and horizontal stacks (no blind spot), gated
tanh * sigmoid units, and the class label as a bias of every gate. The
optimizer, batch size and learning rate are the book's PixelCNN ones.
Reports the test-set NLL in bits/dim, given the labels.

Run:

    python recipes/gated_pixelcnn_fashion_mnist.py --quick --out runs/gated_quick
    python recipes/gated_pixelcnn_fashion_mnist.py --out runs/gated     # GPU

Outputs in --out: metrics.json, model.keras, training_curve.png,
samples/epoch_NNN.png (during training) and samples.png, one row of samples
per class, labelled.
"""

import os
import sys
import time

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common

RECIPE = "gated_pixelcnn_fashion_mnist"
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

PRESETS = {
    # The book's PixelCNN data and optimizer; a Gated PixelCNN of 10 layers.
    "full": dict(
        image_size=16, levels=4, filters=128, num_layers=10, kernel_size=3,
        first_kernel_size=7, learning_rate=5e-4, batch_size=128, epochs=150,
        train_limit=None, test_limit=None, samples_per_class=8,
        sample_every=10,
    ),
    "quick": dict(
        image_size=16, levels=4, filters=48, num_layers=5, kernel_size=3,
        first_kernel_size=7, learning_rate=1e-3, batch_size=128, epochs=4,
        train_limit=12000, test_limit=2000, samples_per_class=8,
        sample_every=1,
    ),
    "tiny": dict(
        image_size=8, levels=4, filters=8, num_layers=2, kernel_size=3,
        first_kernel_size=3, learning_rate=1e-3, batch_size=16, epochs=2,
        train_limit=32, test_limit=16, samples_per_class=1, sample_every=1,
    ),
}  # fmt: skip


def build_parser():
    return common.build_parser(
        description=__doc__.splitlines()[0],
        default_out=os.path.join("runs", RECIPE),
        data_help=(
            "directory holding the four Fashion-MNIST IDX files (default: "
            "$KERAS_AR_DATA, /usr/share/datasets/fashion-mnist, the Keras "
            "cache, else a download)"
        ),
    )


def load_data(args, settings):
    from keras_ar.datasets.fashion_mnist import load_fashion_mnist_for_pixelcnn

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist_for_pixelcnn(
        size=settings["image_size"], levels=settings["levels"], path=args.data
    )
    if settings["train_limit"]:
        x_train, y_train = (
            x_train[: settings["train_limit"]],
            y_train[: settings["train_limit"]],
        )
    if settings["test_limit"]:
        x_test, y_test = (
            x_test[: settings["test_limit"]],
            y_test[: settings["test_limit"]],
        )
    return (x_train, y_train.astype("int32")), (x_test, y_test.astype("int32"))


def build_model(settings):
    import keras

    from keras_ar.models.gated_pixelcnn import GatedPixelCNN

    size = settings["image_size"]
    model = GatedPixelCNN(
        image_shape=(size, size, 1),
        levels=settings["levels"],
        num_classes=len(CLASS_NAMES),
        filters=settings["filters"],
        num_layers=settings["num_layers"],
        kernel_size=settings["kernel_size"],
        first_kernel_size=settings["first_kernel_size"],
    )
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    return model


def class_grid_labels(samples_per_class):
    """Labels for a grid with one row per class: 0 x k, 1 x k, ..."""
    import numpy as np

    return np.repeat(np.arange(len(CLASS_NAMES), dtype="int32"), samples_per_class)


def main(argv=None):
    wall_start = time.perf_counter()
    args = common.parse_args(build_parser(), argv)
    settings = common.settings_for(args, PRESETS)
    common.seed_everything(args.seed)
    out = common.ensure_out_dir(args.out)
    samples_dir = common.ensure_out_dir(os.path.join(out, "samples"))

    (x_train, y_train), (x_test, y_test) = load_data(args, settings)
    print(
        f"[{RECIPE}] backend={args.backend} mode={args.mode} "
        f"train={x_train.shape} test={x_test.shape} levels={settings['levels']}"
    )
    model = build_model(settings)
    if args.verbose:
        model.summary()

    levels = settings["levels"]
    k = settings["samples_per_class"]
    labels = class_grid_labels(k)

    def write_class_grid(model, path, seed, title):
        images = model.generate(
            num_samples=len(labels), labels=labels, seed=seed, use_cache=True
        )
        return common.save_image_grid(
            images, path, levels, ncols=k, row_labels=CLASS_NAMES, title=title
        )

    def write_samples(model, epoch):
        path = os.path.join(samples_dir, f"epoch_{epoch:03d}.png")
        return write_class_grid(model, path, args.seed + epoch, f"epoch {epoch}")

    timer = common.make_epoch_timer()
    sampler = common.make_sample_callback(
        write_samples, settings["sample_every"], settings["epochs"]
    )
    history = model.fit(
        {"inputs": x_train, "labels": y_train},
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        validation_data=({"inputs": x_test, "labels": y_test},),
        callbacks=[timer, sampler],
        verbose=args.verbose,
    )
    test = model.evaluate(
        {"inputs": x_test, "labels": y_test},
        batch_size=settings["batch_size"],
        verbose=0,
        return_dict=True,
    )
    test_bits = float(test["bits_per_dim"])
    print(f"[{RECIPE}] test NLL given the class: {test_bits:.4f} bits/dim")

    paths = []
    model_path = os.path.join(out, "model.keras")
    model.save(model_path)
    paths.append(model_path)
    t0 = time.perf_counter()
    samples_path = write_class_grid(
        model,
        os.path.join(out, "samples.png"),
        args.seed,
        f"Gated PixelCNN samples by class ({levels} levels)",
    )
    sample_seconds = time.perf_counter() - t0
    paths.append(
        common.plot_history(
            history,
            os.path.join(out, "training_curve.png"),
            "Class-conditional Gated PixelCNN, Fashion-MNIST",
            keys=["loss", "bits_per_dim"],
        )
    )
    metrics_path, _ = common.write_metrics(
        out, RECIPE, args, settings, history, timer, wall_start,
        test_bits_per_dim=test_bits,
        test_nats_per_dim=float(test["loss"]),
        uniform_bits_per_dim=common.math.log2(levels),
        num_train=len(x_train),
        num_test=len(x_test),
        parameters=model.count_params(),
        sample_seconds=sample_seconds,
        class_names=list(CLASS_NAMES),
        samples_during_training=sampler.written,
    )  # fmt: skip
    paths.insert(0, metrics_path)
    paths += sampler.written
    common.print_outputs(paths, last=samples_path)
    return {
        "metrics": metrics_path,
        "model": model_path,
        "samples": samples_path,
        "trained_model": model,
    }


if __name__ == "__main__":
    main(sys.argv[1:])
