"""Autoregressive masks: PixelCNN kernels and MADE connectivity."""

from keras_ar.masks.made import (
    MadeMasks,
    connectivity,
    direct_mask,
    disconnected_outputs,
    hidden_degrees,
    hidden_mask,
    input_degrees,
    made_masks,
    output_mask,
    resolve_ordering,
)
from keras_ar.masks.pixelcnn import centre_channel_mask, channel_group, pixelcnn_mask

__all__ = [
    "MadeMasks",
    "centre_channel_mask",
    "channel_group",
    "connectivity",
    "direct_mask",
    "disconnected_outputs",
    "hidden_degrees",
    "hidden_mask",
    "input_degrees",
    "made_masks",
    "output_mask",
    "pixelcnn_mask",
    "resolve_ordering",
]
