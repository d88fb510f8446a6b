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
    return common.fashion_mnist_parser(__doc__, RECIPE)


def build_model(settings):
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
    return common.compile_adam(model, settings)


def class_grid_labels(samples_per_class):
    """Labels for a grid with one row per class: 0 x k, 1 x k, ..."""
    import numpy as np

    return np.repeat(np.arange(len(CLASS_NAMES), dtype="int32"), samples_per_class)


def main(argv=None):
    run = common.Run(RECIPE, build_parser(), PRESETS, argv)
    settings = run.settings
    (x_train, y_train), (x_test, y_test) = common.load_fashion_mnist(run)
    model = build_model(settings)
    if run.args.verbose:
        model.summary()

    # Every sample grid has one labelled row per class.
    k = settings["samples_per_class"]
    labels = class_grid_labels(k)
    grid = dict(ncols=k, row_labels=CLASS_NAMES)
    draw = common.sample_drawer(len(labels), labels=labels)

    train = {"inputs": x_train, "labels": y_train}
    test = {"inputs": x_test, "labels": y_test}
    run.fit(model, train, test, common.image_sample_writer(run, draw, **grid))
    test_nll = common.evaluate_image_model(run, model, test, given_class=True)
    return common.finish_image_recipe(
        run, model, test_nll, len(x_train), len(x_test), draw,
        samples_title=f"Gated PixelCNN samples by class ({settings['levels']} levels)",
        curve_title="Class-conditional Gated PixelCNN, Fashion-MNIST",
        grid=grid,
        class_names=list(CLASS_NAMES),
    )  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
