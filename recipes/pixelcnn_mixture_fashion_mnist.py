"""Mixture-distribution PixelCNN on Fashion-MNIST: "Generative Deep
Learning" (2nd ed.), ch. 5.

The book's last chapter-5 model is TensorFlow Probability's `PixelCNN`
(PixelCNN++, Salimans et al., 2017): each pixel's 256 intensities come from a
mixture of 5 discretized logistics instead of a 256-way softmax. Its
settings: Fashion-MNIST padded from 28x28 to 32x32, all 256 levels,
num_resnet=1, num_hierarchies=2, num_filters=32, dropout 0.3, Adam 1e-3,
batch 128, 10 epochs. This recipe builds the same network with keras_ar's
`PixelCNNPlusPlus` (on any backend) and reports the test NLL in bits/dim
(a uniform model scores 8).

Run:

    python recipes/pixelcnn_mixture_fashion_mnist.py --quick --out runs/mixture_quick
    python recipes/pixelcnn_mixture_fashion_mnist.py --out runs/mixture  # GPU

Outputs in --out: metrics.json, model.keras, training_curve.png,
samples/epoch_NNN.png (during training) and samples.png.
"""

import os
import sys

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common

NAME = "pixelcnn_mixture_fashion_mnist"

# The book's settings (TFP PixelCNN), on 28x28 images padded to 32x32.
_BOOK_MODEL = dict(
    pad_to=32, num_mixtures=5, num_resnet=1, num_hierarchies=2,
    num_filters=32, dropout_rate=0.3, num_samples=16,
)  # fmt: skip

PRESETS = common.with_common(
    common.IMAGE_DATA_PRESETS[256],
    full=_BOOK_MODEL,
    # The book's data and network shape with half the filters.
    quick=dict(_BOOK_MODEL, num_filters=16),
    # A tiny model, for the tests.
    tiny=dict(
        pad_to=None, num_mixtures=2, num_resnet=1, num_hierarchies=1,
        num_filters=4, dropout_rate=0.3, num_samples=4,
    ),
)  # fmt: skip


RECIPE = common.ImageRecipe(
    NAME, __doc__, PRESETS,
    model=common.model_factory(
        "PixelCNNPlusPlus", "levels", "num_mixtures", "num_filters", "num_resnet",
        "num_hierarchies", "dropout_rate",
    ),
    titles=lambda s: (
        f"PixelCNN++ samples ({s['num_mixtures']} logistics)",
        "Mixture PixelCNN (PixelCNN++), Fashion-MNIST",
    ),
)  # fmt: skip
build_parser, main = RECIPE.build_parser, RECIPE.main

if __name__ == "__main__":
    main(sys.argv[1:])
