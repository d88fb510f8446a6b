"""PixelCNN masks (van den Oord et al., 2016, "Pixel Recurrent Neural Networks").

A masked convolution kernel `(kh, kw, in, out)` may only see pixels that come
earlier in raster order: every row above the centre, and the pixels left of
the centre on its row. At the centre pixel, colour images are split into
channel groups R < G < B (the paper's Figure 2): an output feature of group g
may read input features of groups < g (mask "A", the first layer, which must
not see the value it predicts) or <= g (mask "B", every later layer).
"""

import numpy as np

from keras_ar.validation import check_choice, check_int


def check_color_groups(name, num_features, color_channels):
    """Raises unless `num_features` splits evenly into `color_channels` groups."""
    if num_features % color_channels:
        raise ValueError(
            f"`{name}` ({num_features}) must be a multiple of `color_channels` "
            f"({color_channels}) so that each colour group gets the same number "
            "of features"
        )


def channel_group(num_features, color_channels, name="features"):
    """The colour group (0..color_channels-1) of each of `num_features`.

    Features are split into `color_channels` contiguous blocks, which is the
    layout a head gets by reshaping `(..., C * levels)` to `(..., C, levels)`.
    """
    check_int(name, num_features, minimum=1)
    check_color_groups(name, num_features, color_channels)
    return np.arange(num_features) // (num_features // color_channels)


def centre_channel_mask(in_channels, out_channels, mask_type, color_channels=1):
    """The `(in, out)` mask of the centre tap: which features a pixel's
    output may read from the same pixel's input."""
    check_choice("mask_type", mask_type, ("A", "B"))
    g_in = channel_group(in_channels, color_channels, "input channels")
    g_out = channel_group(out_channels, color_channels, "filters")
    if mask_type == "A":
        allowed = g_in[:, None] < g_out[None, :]
    else:
        allowed = g_in[:, None] <= g_out[None, :]
    return allowed.astype("float32")


def pixelcnn_mask(kernel_size, in_channels, out_channels, mask_type, color_channels=1):
    """The `(kh, kw, in, out)` float32 mask of a PixelCNN convolution.

    Args:
        kernel_size: `(kh, kw)`, both odd so that the kernel has a centre.
        in_channels, out_channels: feature counts.
        mask_type: "A" (excludes the centre pixel's own group) or "B".
        color_channels: number of colour groups (1 for grayscale, 3 for RGB).
    """
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(
            f"`kernel_size` must be odd in both dimensions for a centred "
            f"PixelCNN mask, got {tuple(kernel_size)}"
        )
    mask = np.zeros((kh, kw, in_channels, out_channels), "float32")
    ch, cw = kh // 2, kw // 2
    mask[:ch] = 1.0  # every row above the centre
    mask[ch, :cw] = 1.0  # left of the centre on its row
    mask[ch, cw] = centre_channel_mask(
        in_channels, out_channels, mask_type, color_channels
    )
    return mask
