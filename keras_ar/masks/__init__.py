"""Autoregressive masks: PixelCNN kernels and MADE connectivity."""

from keras_ar.masks.made import (  # noqa: F401
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

__all__ = ["centre_channel_mask", "channel_group", "pixelcnn_mask"]
