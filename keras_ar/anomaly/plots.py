"""Figures: per-pixel NLL heat maps and ROC curves (matplotlib, Agg)."""

import numpy as np

from keras_ar.optional import import_optional


def _pyplot():
    matplotlib = import_optional("matplotlib", "keras_ar.anomaly's plots", "anomaly")
    matplotlib.use("Agg")
    return import_optional("matplotlib.pyplot", "keras_ar.anomaly's plots", "anomaly")


def plot_heatmaps(images, maps, path, levels=256, titles=None, label="NLL (bits)"):
    """Images (top row) over their per-pixel scores (bottom row), to PNG.

    Args:
        images: int `(N, H, W)` or `(N, H, W, C)` in `[0, levels)`.
        maps: float `(N, H, W)`, e.g. `nll_map(model, images)`.
        path: the PNG to write.
        levels: the images' number of levels.
        titles: optional list of one title per image.
        label: the colour bar's label.
    Returns:
        `path`.
    """
    images = np.asarray(images)
    maps = np.asarray(maps, dtype="float64")
    if images.ndim == 4:
        images = images[..., 0] if images.shape[-1] == 1 else images
    if (
        maps.ndim != 3
        or len(maps) != len(images)
        or maps.shape[1:] != images.shape[1:3]
    ):
        raise ValueError(
            f"`maps` must be (N, H, W) matching `images` {images.shape}, got "
            f"{maps.shape}"
        )
    plt = _pyplot()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n + 1.2, 3.6), squeeze=False)
    vmax = float(np.percentile(maps, 99.5)) if maps.size else 1.0
    vmin = float(min(maps.min(initial=0.0), 0.0))
    shown = None
    for k in range(n):
        axes[0, k].imshow(
            images[k] / (levels - 1),
            cmap="gray",
            vmin=0,
            vmax=1,
            interpolation="nearest",
        )
        shown = axes[1, k].imshow(
            maps[k], cmap="inferno", vmin=vmin, vmax=vmax, interpolation="nearest"
        )
        if titles is not None:
            axes[0, k].set_title(str(titles[k]), fontsize=8)
        for ax in axes[:, k]:
            ax.set_xticks([])
            ax.set_yticks([])
    if shown is not None:
        fig.colorbar(shown, ax=axes[1].tolist(), label=label, shrink=0.9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_roc_curves(curves, path, title=None):
    """ROC curves, one per entry, to PNG.

    Args:
        curves: dict `name -> (in_scores, out_scores)` (higher = anomalous).
        path: the PNG to write.
        title: optional figure title.
    Returns:
        `path`.
    """
    from keras_ar.anomaly.metrics import detection_metrics, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for name, (in_scores, out_scores) in curves.items():
        fpr, tpr = roc_curve(in_scores, out_scores)
        auroc = detection_metrics(in_scores, out_scores)["auroc"]
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auroc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
