"""Autoregressive masks: PixelCNN kernels and MADE connectivity."""

from keras_ar.masks.pixelcnn import centre_channel_mask, channel_group, pixelcnn_mask

__all__ = ["centre_channel_mask", "channel_group", "pixelcnn_mask"]
