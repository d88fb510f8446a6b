"""Autoregressive models: `fit` with a default NLL loss, `log_prob`, `generate`."""

from keras_ar.models.base import AutoregressiveModel
from keras_ar.models.continuous_model import ContinuousAutoregressiveModel
from keras_ar.models.deep_ar import DeepAR
from keras_ar.models.gated_pixelcnn import GatedPixelCNN
from keras_ar.models.image_model import ImageAutoregressiveModel
from keras_ar.models.image_transformer import ImageTransformer
from keras_ar.models.made import MADE
from keras_ar.models.made_mog import MADEMoG
from keras_ar.models.pixel_rnn import PixelRNN
from keras_ar.models.pixel_snail import PixelSNAIL
from keras_ar.models.pixelcnn import PixelCNN
from keras_ar.models.pixelcnn_plus_plus import PixelCNNPlusPlus
from keras_ar.models.recurrent_lm import RecurrentLM
from keras_ar.models.text_model import TextAutoregressiveModel
from keras_ar.models.transformer_lm import TransformerLM
from keras_ar.models.wavenet import WaveNet

__all__ = [
    "MADE",
    "MADEMoG",
    "AutoregressiveModel",
    "ContinuousAutoregressiveModel",
    "DeepAR",
    "GatedPixelCNN",
    "ImageAutoregressiveModel",
    "ImageTransformer",
    "PixelCNN",
    "PixelCNNPlusPlus",
    "PixelRNN",
    "PixelSNAIL",
    "RecurrentLM",
    "TextAutoregressiveModel",
    "TransformerLM",
    "WaveNet",
]
