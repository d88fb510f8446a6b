"""Autoregressive Keras layers (backend-agnostic, serializable)."""

from keras_ar.layers.causal_dilated_conv1d import CausalDilatedConv1D
from keras_ar.layers.causal_self_attention_2d import CausalSelfAttention2D
from keras_ar.layers.causal_transformer_stack import CausalTransformerStack
from keras_ar.layers.diagonal_bilstm import DiagonalBiLSTM
from keras_ar.layers.gated_block import GatedBlock
from keras_ar.layers.masked_conv2d import MaskedConv2D
from keras_ar.layers.masked_dense import MaskedDense
from keras_ar.layers.mixture_of_gaussians import MixtureOfGaussians
from keras_ar.layers.mixture_of_logistics import MixtureOfLogistics
from keras_ar.layers.pixelcnn_residual_block import PixelCNNResidualBlock
from keras_ar.layers.raster_position_embedding import RasterPositionEmbedding
from keras_ar.layers.row_lstm import RowLSTM
from keras_ar.layers.shifted_conv import (
    DownRightShiftedConv2D,
    DownRightShiftedConv2DTranspose,
    DownShiftedConv2D,
    DownShiftedConv2DTranspose,
)
from keras_ar.layers.wavenet_block import WaveNetResidualBlock

__all__ = [
    "CausalDilatedConv1D",
    "DiagonalBiLSTM",
    "CausalSelfAttention2D",
    "CausalTransformerStack",
    "DownRightShiftedConv2D",
    "DownRightShiftedConv2DTranspose",
    "DownShiftedConv2D",
    "DownShiftedConv2DTranspose",
    "GatedBlock",
    "MaskedConv2D",
    "MaskedDense",
    "MixtureOfGaussians",
    "MixtureOfLogistics",
    "PixelCNNResidualBlock",
    "RowLSTM",
    "RasterPositionEmbedding",
    "WaveNetResidualBlock",
]
