"""Shared code of the chapter-5 recipes: flags, data, training, outputs.

Every recipe is a script with `main(argv)` that reads as "settings + model +
common steps":

1. `Run(recipe, parser, presets, argv)` parses the common flags
   (`build_parser`), picks the Keras backend (`select_backend`, before Keras
   is imported), seeds everything and picks a settings dict: the book's
   (`--full`, the default), a reduced run that finishes on a laptop CPU
   (`--quick`) or a few batches of a tiny model for the tests (`--tiny`);
   `--epochs` and `--batch-size` override it;
2. the recipe loads its data (`load_fashion_mnist` for the image recipes)
   and builds its model (`compile_adam`);
3. `Run.fit` trains with a Keras progress bar, writing samples every few
   epochs (`SampleCallback`, `image_sample_writer`) and timing each epoch
   (`EpochTimer`); `Run.evaluate` scores the held-out split;
4. `Run.finish` (or `finish_image_recipe`) writes to `--out`:
   `metrics.json` (`write_metrics`), `model.keras`, `training_curve.png`
   (`plot_history`) and the samples, and ends by printing the paths it
   wrote (`print_outputs`).

This module imports neither Keras nor keras_ar at import time, so that
`--backend` can still choose the backend. Nothing in `keras_ar/` imports it.
"""

import argparse
import json
import math
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ("tensorflow", "jax", "torch")
MODES = ("full", "quick", "tiny")


# ----------------------------------------------------------------------
# Flags
def build_parser(description, default_out, default_data=None, data_help=None):
    """The flags every recipe takes; a recipe may add its own."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data",
        default=default_data,
        help=data_help or "path of the data set (default: found automatically)",
    )
    parser.add_argument("--out", default=default_out, help="output directory")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help="reduced run that finishes in minutes on a CPU",
    )
    mode.add_argument(
        "--tiny",
        dest="mode",
        action="store_const",
        const="tiny",
        help="a few batches of a tiny model (for the tests; seconds)",
    )
    mode.add_argument(
        "--full",
        dest="mode",
        action="store_const",
        const="full",
        help="the book's settings (the default; meant for a GPU)",
    )
    parser.set_defaults(mode="full")
    parser.add_argument("--epochs", type=int, help="override the mode's epochs")
    parser.add_argument("--batch-size", type=int, help="override the mode's batch size")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend (default: $KERAS_BACKEND, else Keras' default)",
    )
    parser.add_argument("--seed", type=int, default=1337, help="random seed")
    parser.add_argument(
        "--sample-every",
        type=int,
        help="write samples every N epochs (default: depends on the mode)",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch",
    )
    return parser


FASHION_MNIST_DATA_HELP = (
    "directory holding the four Fashion-MNIST IDX files (default: "
    "$KERAS_AR_DATA, /usr/share/datasets/fashion-mnist, the Keras "
    "cache, else a download)"
)


def fashion_mnist_parser(doc, recipe):
    """`build_parser` for a Fashion-MNIST recipe: its description is the
    first line of `doc`, its default output `runs/<recipe>`."""
    return build_parser(
        description=doc.splitlines()[0],
        default_out=os.path.join("runs", recipe),
        data_help=FASHION_MNIST_DATA_HELP,
    )


def parse_args(parser, argv=None):
    """Parses `argv`, selects the backend and checks the overrides."""
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "sample_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    args.backend = select_backend(args.backend)
    return args


def select_backend(backend=None):
    """Sets `KERAS_BACKEND` before Keras is imported; returns the backend.

    `backend=None` keeps `$KERAS_BACKEND` (or Keras' default). When Keras is
    already imported (a recipe called in-process, as the tests do), its
    backend is fixed: asking for another one is an error, not a silent
    mismatch.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}, got {backend!r}")
    if "keras" in sys.modules:
        import keras

        current = keras.backend.backend()
        if backend is not None and backend != current:
            raise ValueError(
                f"--backend {backend} was asked for, but Keras is already "
                f"imported with the {current} backend in this process; run "
                "the recipe as a script, or set KERAS_BACKEND before Python "
                "starts."
            )
        return current
    if backend is not None:
        os.environ["KERAS_BACKEND"] = backend
    import keras

    return keras.backend.backend()


def settings_for(args, presets):
    """The settings of `args.mode` from `presets`, with CLI overrides.

    Args:
        args: parsed flags.
        presets: dict mode -> settings dict, each with at least "epochs",
            "batch_size" and "sample_every".
    """
    settings = dict(presets[args.mode])
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    if args.batch_size is not None:
        settings["batch_size"] = args.batch_size
    if args.sample_every is not None:
        settings["sample_every"] = args.sample_every
    return settings


def seed_everything(seed):
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    np.random.seed(seed)


def default_data_file(relative):
    """`relative` (to the repository's parent directory) if it exists."""
    path = os.path.normpath(os.path.join(REPO_ROOT, os.pardir, relative))
    return path if os.path.exists(path) else None


# ----------------------------------------------------------------------
# Data and model
def load_fashion_mnist(run):
    """Fashion-MNIST for an image recipe, announced (shapes and levels):
    `((x_train, y_train), (x_test, y_test))`, int32 images and int32 labels.

    Uses `run.settings["image_size"]`, `["levels"]`, `["pad_to"]` (optional)
    and keeps the first `["train_limit"]` / `["test_limit"]` images of each
    split (all of them when the limit is None).
    """
    from keras_ar.datasets.fashion_mnist import load_fashion_mnist_for_pixelcnn

    settings = run.settings
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist_for_pixelcnn(
        size=settings["image_size"],
        levels=settings["levels"],
        pad_to=settings.get("pad_to"),
        path=run.args.data,
    )
    train = slice(settings["train_limit"] or None)
    test = slice(settings["test_limit"] or None)
    x_train, y_train = x_train[train], y_train[train].astype("int32")
    x_test, y_test = x_test[test], y_test[test].astype("int32")
    run.announce(
        f"train={x_train.shape} test={x_test.shape} levels={settings['levels']}"
    )
    return (x_train, y_train), (x_test, y_test)


def compile_adam(model, settings):
    """Compiles `model` with Adam at `settings["learning_rate"]`; returns it."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    return model


# ----------------------------------------------------------------------
# Callbacks
def make_epoch_timer():
    """A Keras callback recording each epoch's wall time in `durations`."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.durations = []
            self._start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.durations.append(time.perf_counter() - self._start)

    return EpochTimer()


def make_sample_callback(write_samples, every, epochs):
    """A Keras callback calling `write_samples(model, epoch)` every `every`
    epochs (1-based epoch numbers) and after the last epoch.

    `write_samples` returns the path it wrote (or None); the paths are kept
    in the callback's `written` list. Sampling runs after the epoch timer's
    `on_epoch_end` when the timer is listed first, so it is not counted as
    training time.
    """
    import keras

    class SampleCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.written = []

        def on_epoch_end(self, epoch, logs=None):
            number = epoch + 1
            if number % every == 0 or number == epochs:
                path = write_samples(self.model, number)
                if path is not None:
                    self.written.append(path)

    return SampleCallback()


def tiny_steps(mode, steps):
    """`steps` batches per epoch in --tiny mode, else None (the whole set)."""
    return steps if mode == "tiny" else None


# ----------------------------------------------------------------------
# Outputs
def _clean(value):
    """JSON-safe copy: NumPy scalars to Python, non-finite floats to None."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def history_dict(history):
    """`History.history` as plain lists of floats, one entry per epoch."""
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def write_metrics(out_dir, recipe, args, settings, history, timer, wall_start, **extra):
    """Writes `metrics.json`; returns its path and the dict written.

    Keys: recipe, mode, backend, keras_version, args, settings, history
    (per-epoch losses and metrics), epochs_run, time_per_epoch_s,
    mean_time_per_epoch_s, wall_time_s, process_cpu_time_s, plus `extra` (the evaluation figures,
    e.g. test_bits_per_dim or val_perplexity).
    """
    import keras

    durations = list(timer.durations)
    metrics = {
        "recipe": recipe,
        "mode": args.mode,
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "args": vars(args),
        "settings": settings,
        "history": history_dict(history),
        "epochs_run": len(durations),
        "time_per_epoch_s": durations,
        "mean_time_per_epoch_s": sum(durations) / len(durations) if durations else None,
        **extra,
        "wall_time_s": time.perf_counter() - wall_start,
        # CPU seconds of this process (all threads): on a shared, busy
        # machine a steadier figure than the wall time.
        "process_cpu_time_s": time.process_time(),
    }
    metrics = _clean(metrics)
    path = os.path.join(out_dir, "metrics.json")
    with open(path, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=False)
        f.write("\n")
    return path, metrics


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


def print_outputs(paths, last=None):
    """Prints every path written, `last` (e.g. samples.png) last of all."""
    print("\nWrote:")
    ordered = [p for p in paths if p != last] + ([last] if last else [])
    for path in ordered:
        print(f"  {path}")
    if last:
        print(f"\nSamples: {last}")


def ensure_out_dir(path):
    os.makedirs(path, exist_ok=True)
    return path


# ----------------------------------------------------------------------
# A recipe run, from flags to printed outputs
class Run:
    """One run of a recipe: its flags, settings, output directory and the
    steps every recipe shares.

    Creating it parses `argv` (selecting the backend), picks the settings of
    the mode from `presets`, seeds everything and creates `--out`.

    Attributes:
        recipe: the recipe's name (in metrics.json and printed lines).
        args: the parsed flags.
        settings: the mode's settings with the CLI overrides.
        out: the output directory.
        paths: files written so far, listed by `finish` in this order.
        history, timer, sampler: set by `fit`.
    """

    def __init__(self, recipe, parser, presets, argv=None):
        self.wall_start = time.perf_counter()
        self.recipe = recipe
        self.args = parse_args(parser, argv)
        self.settings = settings_for(self.args, presets)
        seed_everything(self.args.seed)
        self.out = ensure_out_dir(self.args.out)
        self.paths = []
        self.history = self.timer = self.sampler = None

    def path(self, name):
        return os.path.join(self.out, name)

    def log(self, message):
        print(f"[{self.recipe}] {message}")

    def announce(self, data):
        """Prints the backend, the mode and `data` (the data's shapes)."""
        self.log(f"backend={self.args.backend} mode={self.args.mode} {data}")

    def fit(self, model, x_train, x_val, write_samples):
        """Trains for the settings' epochs and batch size, validating on
        `x_val` and calling `write_samples(model, epoch)` every
        `sample_every` epochs; returns the `History`."""
        settings = self.settings
        self.timer = make_epoch_timer()
        self.sampler = make_sample_callback(
            write_samples, settings["sample_every"], settings["epochs"]
        )
        self.history = model.fit(
            x_train,
            batch_size=settings["batch_size"],
            epochs=settings["epochs"],
            validation_data=(x_val,),
            shuffle=True,
            callbacks=[self.timer, self.sampler],
            verbose=self.args.verbose,
        )
        return self.history

    def evaluate(self, model, x):
        """`model.evaluate` on `x` as a dict of Python floats."""
        logs = model.evaluate(
            x, batch_size=self.settings["batch_size"], verbose=0, return_dict=True
        )
        return {k: float(v) for k, v in logs.items()}

    def save_model(self, model):
        """Saves `model.keras`; returns its path (listed by `finish`)."""
        path = self.path("model.keras")
        model.save(path)
        self.paths.append(path)
        return path

    def finish(self, model, samples_path, curve_title, curve_keys, **extra):
        """Plots the training curves, writes metrics.json (with `extra`) and
        prints every path written, `samples_path` last; returns the dict
        every recipe's `main` returns."""
        self.paths.append(
            plot_history(
                self.history,
                self.path("training_curve.png"),
                curve_title,
                keys=list(curve_keys),
            )
        )
        metrics_path, _ = write_metrics(
            self.out, self.recipe, self.args, self.settings, self.history,
            self.timer, self.wall_start, **extra,
        )  # fmt: skip
        print_outputs(
            [metrics_path, *self.paths, *self.sampler.written], last=samples_path
        )
        return {
            "metrics": metrics_path,
            "model": self.path("model.keras"),
            "samples": samples_path,
            "trained_model": model,
        }


# ----------------------------------------------------------------------
# Image recipes
def sample_drawer(num_samples, **generate_kwargs):
    """`draw(model, seed)`: `num_samples` images from `model.generate` with
    the cache on (`generate_kwargs`, e.g. `labels`, go to `generate`)."""

    def draw(model, seed):
        return model.generate(
            num_samples=num_samples, seed=seed, use_cache=True, **generate_kwargs
        )

    return draw


def image_sample_writer(run, draw, **grid):
    """The `write_samples(model, epoch)` of an image recipe: a grid of
    `draw(model, seed)` (int images) in `samples/epoch_NNN.png`.

    `grid` goes to `save_image_grid` (e.g. `ncols`, `row_labels`).
    """
    samples_dir = ensure_out_dir(run.path("samples"))
    levels = run.settings["levels"]

    def write_samples(model, epoch):
        path = os.path.join(samples_dir, f"epoch_{epoch:03d}.png")
        images = draw(model, run.args.seed + epoch)
        return save_image_grid(images, path, levels, title=f"epoch {epoch}", **grid)

    return write_samples


def evaluate_image_model(run, model, x_test, given_class=False):
    """Test NLL of an image model (dict of floats, with "bits_per_dim" and
    "loss" in nats/dim), printed in bits/dim."""
    test = run.evaluate(model, x_test)
    bits = test["bits_per_dim"]
    if given_class:
        run.log(f"test NLL given the class: {bits:.4f} bits/dim")
    else:
        # The book reports none. A uniform model scores log2(levels).
        levels = run.settings["levels"]
        run.log(
            f"test NLL: {bits:.4f} bits/dim "
            f"(uniform over {levels} levels: {math.log2(levels):.1f})"
        )
    return test


def finish_image_recipe(
    run, model, test, num_train, num_test, draw, samples_title, curve_title,
    grid=None, **extra,
):  # fmt: skip
    """The end of an image recipe: model.keras, samples.png (a grid of
    `draw(model, seed)`, timed), the training curves and metrics.json with
    the test NLL, then the printed list of paths."""
    levels = run.settings["levels"]
    run.save_model(model)
    t0 = time.perf_counter()
    images = draw(model, run.args.seed)
    sample_seconds = time.perf_counter() - t0
    samples_path = save_image_grid(
        images, run.path("samples.png"), levels, title=samples_title, **(grid or {})
    )
    return run.finish(
        model, samples_path, curve_title, ["loss", "bits_per_dim"],
        test_bits_per_dim=test["bits_per_dim"],
        test_nats_per_dim=test["loss"],
        uniform_bits_per_dim=math.log2(levels),
        num_train=num_train,
        num_test=num_test,
        parameters=model.count_params(),
        sample_seconds=sample_seconds,
        **extra,
        samples_during_training=run.sampler.written,
    )  # fmt: skip
