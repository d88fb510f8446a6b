"""PixelCNN on Fashion-MNIST: "Generative Deep Learning" (2nd ed.), ch. 5.

The book's model and settings: images resized to 16x16 and quantized to 4
intensity levels; a masked 7x7 convolution "A" with 128 filters, 5 residual
blocks, two masked 1x1 "B" layers, a softmax over the 4 levels per pixel;
Adam with learning rate 5e-4, batch 128, 150 epochs. Unlike the book, the
recipe reports the test-set negative log-likelihood in bits per dimension
(the book reports none); a uniform 4-level model scores 2 bits/dim.

Run (the quick setting finishes in minutes on a CPU):

    python recipes/pixelcnn_fashion_mnist.py --quick --out runs/pixelcnn_quick
    python recipes/pixelcnn_fashion_mnist.py --out runs/pixelcnn   # book, GPU

Outputs in --out: metrics.json, model.keras, training_curve.png,
samples/epoch_NNN.png (during training) and samples.png.
"""

import os
import sys

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common

NAME = "pixelcnn_fashion_mnist"

# The book's settings.
_BOOK_MODEL = dict(
    filters=128, kernel_size=7, num_residual_blocks=5, num_head_layers=2,
    num_samples=36,
)  # fmt: skip

PRESETS = common.with_common(
    common.IMAGE_DATA_PRESETS[4],
    full=_BOOK_MODEL,
    # Same architecture with fewer filters, on the quick data: the samples
    # already look like clothes.
    quick=dict(_BOOK_MODEL, filters=64),
    # A tiny model, for the tests.
    tiny=dict(
        filters=8, kernel_size=3, num_residual_blocks=1, num_head_layers=1,
        num_samples=4,
    ),
)  # fmt: skip


RECIPE = common.ImageRecipe(
    NAME, __doc__, PRESETS,
    model=common.model_factory(
        "PixelCNN", "levels", "filters", "kernel_size", "num_residual_blocks",
        "num_head_layers",
    ),
    titles=lambda s: (
        f"PixelCNN samples ({s['levels']} levels)", "PixelCNN, Fashion-MNIST"
    ),
)  # fmt: skip
build_parser, main = RECIPE.build_parser, RECIPE.main

if __name__ == "__main__":
    main(sys.argv[1:])
