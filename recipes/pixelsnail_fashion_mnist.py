"""PixelSNAIL on Fashion-MNIST (Chen et al., 2018), beyond the book's ch. 5.

The last model of the survey the book's chapter draws on: gated residual
causal convolutions (those of PixelCNN++) interleaved with masked
self-attention, so that every pixel sees the whole past. Two settings, so
that it sits next to the other recipes:

- `--levels 4` (the default): the book's PixelCNN data, 16x16 images with 4
  intensity levels, and a categorical head (a softmax over the 4 levels);
  compare with `pixelcnn_fashion_mnist.py` and
  `gated_pixelcnn_fashion_mnist.py`.
- `--levels 256`: 28x28 images with all 256 levels and the paper's
  discretized-logistic-mixture head; compare with
  `pixelcnn_mixture_fashion_mnist.py`.

Reports the test-set NLL in bits/dim (uniform: 2 for 4 levels, 8 for 256).

Run:

    python recipes/pixelsnail_fashion_mnist.py --quick --out runs/pixelsnail_quick
    python recipes/pixelsnail_fashion_mnist.py --quick --levels 256 --out runs/pixelsnail_256_quick
    python recipes/pixelsnail_fashion_mnist.py --out runs/pixelsnail   # GPU

Outputs in --out: metrics.json, model.keras, training_curve.png,
samples/epoch_NNN.png (during training) and samples.png.
"""

import os
import sys

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common

NAME = "pixelsnail_fashion_mnist"

# A GPU-sized network, for either head.
_FULL_NETWORK = dict(
    num_filters=128, num_blocks=4, num_resnet=2, key_dim=16, value_dim=64,
    dropout_rate=0.5,
)  # fmt: skip
# A tiny model, for the tests, for either head.
_TINY_MODEL = dict(
    num_mixtures=2, num_filters=8, num_blocks=1, num_resnet=1, key_dim=4,
    value_dim=4, dropout_rate=0.1, num_samples=4,
)  # fmt: skip

PRESETS = {
    4: common.with_common(
        common.IMAGE_DATA_PRESETS[4],
        # On the book's PixelCNN data and optimizer.
        full=dict(
            distribution="categorical", num_mixtures=5, **_FULL_NETWORK,
            num_samples=36,
        ),
        # The data and schedule of pixelcnn_fashion_mnist.py --quick.
        quick=dict(
            distribution="categorical", num_mixtures=5, num_filters=48,
            num_blocks=2, num_resnet=2, key_dim=16, value_dim=24,
            dropout_rate=0.0, num_samples=36,
        ),
        tiny=dict(distribution="categorical", **_TINY_MODEL),
    ),
    256: common.with_common(
        common.IMAGE_DATA_PRESETS[256],
        # The paper's head at full resolution, with smaller batches for
        # longer.
        full=dict(
            distribution="mixture", num_mixtures=10, **_FULL_NETWORK,
            batch_size=64, epochs=30, num_samples=16,
        ),
        # The data and schedule of pixelcnn_mixture_fashion_mnist.py --quick
        # (28x28, not padded: attention needs no power-of-two size).
        quick=dict(
            distribution="mixture", num_mixtures=5, num_filters=32,
            num_blocks=2, num_resnet=1, key_dim=16, value_dim=16,
            dropout_rate=0.0, num_samples=16,
        ),
        tiny=dict(distribution="mixture", **_TINY_MODEL),
    ),
}  # fmt: skip


def _titles(settings):
    size, levels = settings["image_size"], settings["levels"]
    return (
        f"PixelSNAIL samples ({size}x{size}, {levels} levels)",
        f"PixelSNAIL, Fashion-MNIST {size}x{size}, {levels} levels",
    )


LEVELS_HELP = "4: 16x16 images, categorical head; 256: 28x28, logistic mixture"
RECIPE = common.ImageRecipe(
    NAME, __doc__, PRESETS,
    model=common.model_factory(
        "PixelSNAIL", "levels", "distribution", "num_mixtures", "num_filters",
        "num_blocks", "num_resnet", "key_dim", "value_dim", "dropout_rate",
    ),
    titles=_titles,
    flags=[(["--levels"], dict(type=int, choices=sorted(PRESETS), default=4, help=LEVELS_HELP))],
    preset_flag="levels",
)  # fmt: skip
build_parser, main = RECIPE.build_parser, RECIPE.main

if __name__ == "__main__":
    main(sys.argv[1:])
