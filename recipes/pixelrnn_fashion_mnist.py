"""PixelRNN (Row LSTM or Diagonal BiLSTM) on Fashion-MNIST.

The survey's other image family, on the book's chapter-5 data pipeline
(16x16 images, 4 intensity levels, as `pixelcnn_fashion_mnist.py`): the
PixelRNN of van den Oord et al. (2016), "Pixel Recurrent Neural Networks":
a masked 7x7 convolution "A", residual 2D LSTM layers (`--kind row_lstm`
or `diagonal_bilstm`), two ReLU + masked 1x1 "B" layers and a softmax over
the levels per pixel. Reports the test-set NLL in bits/dim (uniform over 4
levels: 2 bits/dim), so the figure sits next to the PixelCNN recipes'.

Run:

    python recipes/pixelrnn_fashion_mnist.py --quick --out runs/pixelrnn_quick
    python recipes/pixelrnn_fashion_mnist.py --out runs/pixelrnn        # GPU

Outputs in --out: metrics.json, model.keras, training_curve.png,
samples/epoch_NNN.png (during training) and samples.png.
"""

import os
import sys

if __package__ in (None, ""):
    # Run as a script: make `recipes` and `keras_ar` importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes import common

NAME = "pixelrnn_fashion_mnist"
KINDS = ("row_lstm", "diagonal_bilstm")

PRESETS = common.with_common(
    common.IMAGE_DATA_PRESETS[4],
    # The book's PixelCNN data and optimizer; the paper's MNIST PixelRNN
    # depth (7 Diagonal BiLSTM layers) with h = 64.
    full=dict(kind="diagonal_bilstm", num_layers=7, hidden_dim=64, num_samples=36),
    # The PixelCNN recipe's quick data with a small Row LSTM model, a higher
    # learning rate and 3 epochs. Not yet timed on an idle machine.
    quick=dict(
        kind="row_lstm", num_layers=3, hidden_dim=32, learning_rate=2e-3,
        epochs=3, num_samples=36,
    ),
    # A tiny model, for the tests.
    tiny=dict(kind="diagonal_bilstm", num_layers=1, hidden_dim=4, num_samples=4),
)  # fmt: skip


def _titles(settings):
    name = "Row LSTM" if settings["kind"] == "row_lstm" else "Diagonal BiLSTM"
    return (
        f"PixelRNN ({name}) samples ({settings['levels']} levels)",
        f"PixelRNN ({name}), Fashion-MNIST",
    )


RECIPE = common.ImageRecipe(
    NAME, __doc__, PRESETS,
    model=common.model_factory(
        "PixelRNN", "levels", "kind", "num_layers", "hidden_dim"
    ),
    titles=_titles,
    flags=[(["--kind"], dict(choices=KINDS, help="PixelRNN layer (default: the mode's)"))],
    overrides=("kind",),
)  # fmt: skip
build_parser, main = RECIPE.build_parser, RECIPE.main

if __name__ == "__main__":
    main(sys.argv[1:])
