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

NAME = "gated_pixelcnn_fashion_mnist"

# A Gated PixelCNN of 10 layers.
_FULL_MODEL = dict(
    filters=128, num_layers=10, kernel_size=3, first_kernel_size=7,
    samples_per_class=8,
)  # fmt: skip

PRESETS = common.with_common(
    common.IMAGE_DATA_PRESETS[4],
    # The book's PixelCNN data and optimizer.
    full=_FULL_MODEL,
    # Half as deep, with fewer filters.
    quick=dict(_FULL_MODEL, filters=48, num_layers=5),
    tiny=dict(
        filters=8, num_layers=2, kernel_size=3, first_kernel_size=3,
        samples_per_class=1,
    ),
)  # fmt: skip


RECIPE = common.ImageRecipe(
    NAME, __doc__, PRESETS,
    model=common.model_factory(
        "GatedPixelCNN", "levels", "filters", "num_layers", "kernel_size",
        "first_kernel_size",
    ),
    titles=lambda s: (
        f"Gated PixelCNN samples by class ({s['levels']} levels)",
        "Class-conditional Gated PixelCNN, Fashion-MNIST",
    ),
    class_names=common.FASHION_MNIST_CLASSES,
)  # fmt: skip
build_parser, main = RECIPE.build_parser, RECIPE.main

if __name__ == "__main__":
    main(sys.argv[1:])
