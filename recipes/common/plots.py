"""Recipe figures: training curves and sample grids (PNG, matplotlib Agg)."""

import math

from recipes.common.outputs import history_dict


def plot_history(history, path, title, keys=None):
    """Training curves (one panel per metric, train and validation) to PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = history_dict(history)
    if keys is None:
        keys = [k for k in logs if not k.startswith("val_")]
    keys = [k for k in keys if k in logs]
    fig, axes = plt.subplots(
        1, max(len(keys), 1), figsize=(4.5 * max(len(keys), 1), 3.5)
    )
    axes = axes if hasattr(axes, "__len__") else [axes]
    for ax, key in zip(axes, keys):
        epochs = range(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], marker="o", label="train")
        if "val_" + key in logs:
            ax.plot(epochs, logs["val_" + key], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_image_grid(images, path, levels, ncols=None, row_labels=None, title=None):
    """Writes int images `(N, H, W, 1)` in `[0, levels)` as a PNG grid.

    Args:
        images: int array `(N, H, W)` or `(N, H, W, 1)`.
        path: the PNG to write.
        levels: the number of intensity levels (level `levels - 1` is white).
        ncols: images per row (default: about sqrt(N)).
        row_labels: optional list of one label per row, drawn on the left.
        title: optional figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    n = len(images)
    if ncols is None:
        ncols = int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    height, width = images.shape[1:3]
    gap = 1
    grid = np.ones((nrows * (height + gap) - gap, ncols * (width + gap) - gap))
    grid *= 0.5  # grey separators
    for k, image in enumerate(images):
        r, c = divmod(k, ncols)
        y, x = r * (height + gap), c * (width + gap)
        grid[y : y + height, x : x + width] = image / max(levels - 1, 1)
    scale = 0.18 if max(height, width) <= 16 else 0.12
    fig_w = max(ncols * width * scale / 2, 2.0) + (1.6 if row_labels else 0)
    fig_h = max(nrows * height * scale / 2, 1.5) + (0.5 if title else 0)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    if row_labels:
        ax.set_yticks([r * (height + gap) + height / 2 for r in range(nrows)])
        ax.set_yticklabels(list(row_labels)[:nrows])
        ax.tick_params(axis="y", length=0)
    else:
        ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
