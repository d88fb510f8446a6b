"""One tiny configuration of every model family, for API-level tests.

Each factory takes a NumPy Generator and returns `(model, x, labels)`;
`labels` is None for unconditional models.
"""

import numpy as np


def pixelcnn(rng):
    from keras_ar.models import PixelCNN

    model = PixelCNN((3, 3, 1), levels=4, filters=8, kernel_size=3, num_residual_blocks=1)
    return model, rng.integers(0, 4, (8, 3, 3, 1)), None


def gated_pixelcnn(rng):
    from keras_ar.models import GatedPixelCNN

    model = GatedPixelCNN((3, 3, 1), levels=4, num_classes=2, filters=8, num_layers=2)
    return model, rng.integers(0, 4, (8, 3, 3, 1)), rng.integers(0, 2, (8,))


def pixelcnn_plus_plus(rng):
    from keras_ar.models import PixelCNNPlusPlus

    model = PixelCNNPlusPlus(
        (4, 4, 1), levels=8, num_mixtures=2, num_filters=8, num_resnet=1,
        num_hierarchies=2, dropout_rate=0.0,
    )  # fmt: skip
    return model, rng.integers(0, 8, (8, 4, 4, 1)), None


def pixel_snail(rng):
    from keras_ar.models import PixelSNAIL

    model = PixelSNAIL(
        (3, 3, 3), levels=4, distribution="categorical", num_filters=6, num_blocks=1,
        num_resnet=1, key_dim=4, value_dim=4, dropout_rate=0.0,
    )  # fmt: skip
    return model, rng.integers(0, 4, (8, 3, 3, 3)), None


def wavenet(rng):
    from keras_ar.models import WaveNet

    model = WaveNet(
        levels=5, sequence_length=6, residual_channels=4, skip_channels=4, dilations=[1, 2]
    )
    return model, rng.integers(0, 5, (8, 6)), None


def made(rng):
    from keras_ar.models import MADE

    model = MADE(input_dim=5, levels=3, hidden_units=(16,))
    return model, rng.integers(0, 3, (8, 5)), None


def recurrent_lm(rng):
    from keras_ar.models import RecurrentLM

    model = RecurrentLM(
        vocab_size=7, sequence_length=6, embedding_dim=4, units=8, pad_token_id=None
    )
    return model, rng.integers(0, 7, (8, 6)), None


def pixel_rnn_row_lstm(rng):
    from keras_ar.models import PixelRNN

    model = PixelRNN(
        (3, 3, 1), levels=4, kind="row_lstm", num_layers=1, hidden_dim=4, stem_kernel_size=3
    )
    return model, rng.integers(0, 4, (8, 3, 3, 1)), None


def pixel_rnn_diagonal_bilstm(rng):
    from keras_ar.models import PixelRNN

    model = PixelRNN(
        (3, 3, 1), levels=4, kind="diagonal_bilstm", num_layers=1, hidden_dim=4,
        stem_kernel_size=3,
    )  # fmt: skip
    return model, rng.integers(0, 4, (8, 3, 3, 1)), None


def image_transformer(rng):
    from keras_ar.models import ImageTransformer

    model = ImageTransformer(
        (2, 3, 1), levels=4, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16
    )
    return model, rng.integers(0, 4, (8, 2, 3, 1)), None


def transformer_lm(rng):
    from keras_ar.models import TransformerLM

    model = TransformerLM(
        vocab_size=7, sequence_length=6, num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, pad_token_id=None,
    )  # fmt: skip
    return model, rng.integers(0, 7, (8, 6)), None


TINY_MODELS = {
    "pixelcnn": pixelcnn,
    "gated_pixelcnn": gated_pixelcnn,
    "pixelcnn_plus_plus": pixelcnn_plus_plus,
    "pixel_snail": pixel_snail,
    "wavenet": wavenet,
    "made": made,
    "recurrent_lm": recurrent_lm,
    "pixel_rnn_row_lstm": pixel_rnn_row_lstm,
    "pixel_rnn_diagonal_bilstm": pixel_rnn_diagonal_bilstm,
    "image_transformer": image_transformer,
    "transformer_lm": transformer_lm,
}


def build(name, seed=0):
    return TINY_MODELS[name](np.random.default_rng(seed))
