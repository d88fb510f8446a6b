"""Recipe flags: the common command line, backend selection, mode presets.

Imports neither Keras nor keras_ar at import time, so that `--backend` can
still choose the backend.
"""

import argparse
import os
import sys

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
BACKENDS = ("tensorflow", "jax", "torch")
MODES = ("full", "quick", "tiny")


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
        "--resume",
        action="store_true",
        help="continue an interrupted run from the last epoch backed up in "
        "--out/backup (weights, optimizer state and history); without it an "
        "old backup is removed and training starts from epoch 1",
    )
    parser.add_argument(
        "--allow-nan",
        action="store_true",
        help="keep training when the loss becomes NaN or infinite (by "
        "default the run stops at once with exit status 1 and advice)",
    )
    parser.add_argument(
        "--max-train-seconds",
        type=float,
        help="stop training after the epoch that would let the next one end "
        "past this many seconds (metrics.json records the epochs run)",
    )
    parser.add_argument(
        "--distribute",
        action="store_true",
        help="data-parallel training on every local device: "
        "keras.distribution.DataParallel on jax, tf.distribute.MirroredStrategy "
        "on tensorflow (not supported on torch); --batch-size is the global batch",
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


def cli_error(message):
    """Ends the run as a command-line mistake: one `error:` line on stderr,
    exit status 2, no traceback."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_args(parser, argv=None):
    """Parses `argv`, selects the backend and checks the overrides."""
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "sample_every", "max_train_seconds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    args.backend = select_backend(args.backend)
    if getattr(args, "distribute", False):
        from recipes.common.distribute import check_supported

        try:
            check_supported(args.backend)
        except ValueError as error:
            parser.error(str(error))
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


def default_data_file(relative):
    """`relative` (to the repository's parent directory) if it exists."""
    path = os.path.normpath(os.path.join(REPO_ROOT, os.pardir, relative))
    return path if os.path.exists(path) else None
