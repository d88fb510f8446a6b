"""Fashion-MNIST: loading from local IDX files, ready for a PixelCNN.

The loader prefers files already on the machine, so that recipes and tests run
offline; it only downloads (through Keras) when nothing local is found.
`load_fashion_mnist_for_pixelcnn` applies the book's preprocessing
(`keras_ar.datasets.images`: resize, quantize, pad).
"""

import os

import numpy as np

from keras_ar.datasets.idx import read_idx
from keras_ar.datasets.images import pad_images, quantize, resize_images
from keras_ar.validation import check_choice, check_int

# The ten clothing classes (labels 0..9).
NUM_CLASSES = 10

# File stems of the four IDX files; each may also exist with a `.gz` suffix.
FILE_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# System-wide install locations, searched after `$KERAS_AR_DATA`. A module
# constant so that tests (and unusual installs) can replace it.
SYSTEM_DATA_DIRS = (
    # Debian / Ubuntu package `dataset-fashion-mnist`.
    "/usr/share/datasets/fashion-mnist",
)

ENV_VAR = "KERAS_AR_DATA"

_HOW_TO_GET = (
    "To get the data, do one of: `apt-get install dataset-fashion-mnist` "
    "(Debian/Ubuntu); put the four files (gzipped or not) in a directory and "
    f"set {ENV_VAR}=that/directory or pass `path=` to the loader; or allow "
    "internet access and `download=True` so Keras can fetch them into its cache."
)


class FashionMNISTNotFoundError(FileNotFoundError):
    """Raised when Fashion-MNIST is neither found locally nor downloadable."""


def keras_cache_dirs():
    """Directories where `keras.datasets.fashion_mnist` caches its files.

    Mirrors Keras' own rule: `$KERAS_HOME` if set, else `~/.keras`, else (when
    the home directory is not writable) `/tmp/.keras`.
    """
    subdir = os.path.join("datasets", "fashion-mnist")
    if os.environ.get("KERAS_HOME"):
        return [os.path.join(os.environ["KERAS_HOME"], subdir)]
    home = os.path.expanduser("~")
    dirs = [os.path.join(home, ".keras", subdir)]
    if not os.access(home, os.W_OK):
        dirs.append(os.path.join("/tmp", ".keras", subdir))
    return dirs


def search_dirs():
    """The directories searched, in order, when no `path` is given."""
    dirs = []
    root = os.environ.get(ENV_VAR)
    if root:
        dirs += [root, os.path.join(root, "fashion-mnist")]
    dirs += list(SYSTEM_DATA_DIRS)
    dirs += keras_cache_dirs()
    return dirs


def _find_files(directory):
    """Maps each key of `FILE_NAMES` to its file in `directory`.

    Returns `(files, missing)`: the files found and the stems not found.
    """
    files, missing = {}, []
    for key, stem in FILE_NAMES.items():
        for name in (stem, stem + ".gz"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                files[key] = candidate
                break
        else:
            missing.append(stem)
    return files, missing


def _load_from_files(files):
    """Reads the four IDX files and checks that each holds what its name
    says: images `(N, H, W)` and labels `(N,)` 0..9, all uint8, the same N
    in a split's two files, the same H x W in both splits, N > 0."""
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        x_file, y_file = files[f"x_{split}"], files[f"y_{split}"]
        if x.ndim != 3 or x.dtype != np.uint8:
            hint = " (this looks like a labels file)" if x.ndim == 1 else ""
            raise ValueError(
                f"{x_file}: expected uint8 images of shape (N, H, W), got "
                f"{x.dtype} of shape {x.shape}{hint}"
            )
        if y.ndim != 1 or y.dtype != np.uint8:
            hint = " (this looks like an images file)" if y.ndim == 3 else ""
            raise ValueError(
                f"{y_file}: expected uint8 labels of shape (N,), got "
                f"{y.dtype} of shape {y.shape}{hint}"
            )
        if len(x) == 0:
            raise ValueError(f"{x_file}: holds no images (shape {x.shape})")
        if len(x) != len(y):
            raise ValueError(
                f"{x_file} holds {len(x)} images but {y_file} holds {len(y)} labels"
            )
        if y.max() >= NUM_CLASSES:
            raise ValueError(
                f"{y_file}: labels must be in [0, {NUM_CLASSES}) (the "
                f"Fashion-MNIST classes), found {int(y.max())}"
            )
    train_size, test_size = arrays["x_train"].shape[1:], arrays["x_test"].shape[1:]
    if train_size != test_size:
        raise ValueError(
            f"{files['x_train']} holds {train_size} images but "
            f"{files['x_test']} holds {test_size} images: the two splits must "
            "have the same image size"
        )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _download_with_keras():
    import keras

    return keras.datasets.fashion_mnist.load_data()


def _download_with_tfds():
    # Optional dependency: imported only when Keras' own download failed.
    import tensorflow_datasets as tfds

    splits = []
    for split in ("train", "test"):
        data = tfds.as_numpy(tfds.load("fashion_mnist", split=split, batch_size=-1))
        x = np.asarray(data["image"], np.uint8).reshape(-1, 28, 28)
        splits.append((x, np.asarray(data["label"], np.uint8)))
    return tuple(splits)


def _download(problems):
    """Tries Keras, then TFDS; returns the data or None, noting failures."""
    try:
        return _download_with_keras()
    except Exception as e:  # Any network / HTTP / disk error: try the next.
        problems.append(f"keras.datasets.fashion_mnist.load_data() failed: {e!r}")
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        problems.append("tensorflow_datasets is not installed (no TFDS fallback)")
        return None
    try:
        return _download_with_tfds()
    except Exception as e:
        problems.append(f"tensorflow_datasets.load('fashion_mnist') failed: {e!r}")
        return None


def load_fashion_mnist(path=None, download=True):
    """Loads Fashion-MNIST, preferring files already on this machine.

    Looks for the four IDX files (`train-images-idx3-ubyte`,
    `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
    `t10k-labels-idx1-ubyte`, each gzipped or not) in, in order:

    1. `path`, if given (and nowhere else: a `path` without the files is an
       error);
    2. `$KERAS_AR_DATA` and `$KERAS_AR_DATA/fashion-mnist`;
    3. `SYSTEM_DATA_DIRS` (Debian's `/usr/share/datasets/fashion-mnist`, from
       the package `dataset-fashion-mnist`);
    4. the Keras cache (`$KERAS_HOME/datasets/fashion-mnist`, or
       `~/.keras/datasets/fashion-mnist`).

    If none has them and `download=True`, calls
    `keras.datasets.fashion_mnist.load_data()` (and, should that fail, TFDS
    when `tensorflow_datasets` is installed).

    Args:
        path: optional directory holding the four files.
        download: whether to download when no local copy is found.

    Returns:
        `((x_train, y_train), (x_test, y_test))`, as
        `keras.datasets.fashion_mnist.load_data()` returns them: uint8 images
        of shape `(60000, 28, 28)` / `(10000, 28, 28)` with values 0..255 and
        uint8 labels 0..9.

    Raises:
        FashionMNISTNotFoundError: (a `FileNotFoundError`) if `path` lacks
            the files, or if nothing was found and downloading was disabled
            or failed; the message lists every place looked at.
        ValueError: if a file found is corrupt (naming it).

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    >>> x_train.shape, x_train.dtype
    ((60000, 28, 28), dtype('uint8'))
    """
    if path is not None:
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FashionMNISTNotFoundError(
                f"`path`={path!r} is not a directory (it should hold the four "
                "Fashion-MNIST IDX files). " + _HOW_TO_GET
            )
        files, missing = _find_files(path)
        if missing:
            raise FashionMNISTNotFoundError(
                f"`path`={path!r} does not hold the Fashion-MNIST files: "
                f"missing {', '.join(missing)} (with or without .gz). " + _HOW_TO_GET
            )
        return _load_from_files(files)

    looked = []
    for directory in search_dirs():
        files, missing = _find_files(directory)
        if not missing:
            return _load_from_files(files)
        if not os.path.isdir(directory):
            looked.append(f"{directory} (no such directory)")
        else:
            looked.append(f"{directory} (missing {', '.join(missing)})")
    if not os.environ.get(ENV_VAR):
        looked.insert(0, f"${ENV_VAR} (not set)")

    problems = []
    if download:
        data = _download(problems)
        if data is not None:
            return data
    else:
        problems.append("downloading is disabled (download=False)")

    lines = ["Fashion-MNIST not found. Looked in:"]
    lines += [f"  - {entry}" for entry in looked]
    lines.append("Download:")
    lines += [f"  - {entry}" for entry in problems]
    lines.append(_HOW_TO_GET)
    raise FashionMNISTNotFoundError("\n".join(lines))


def load_fashion_mnist_for_pixelcnn(
    size=16,
    levels=4,
    path=None,
    pad_to=None,
    limit=None,
    interpolation="bilinear",
    download=True,
):
    """Fashion-MNIST ready for a PixelCNN: resized, quantized, channel axis.

    The book's pipeline: resize 28x28 to `size` x `size` (skipped when
    `size` is 28), quantize to `levels` levels, then optionally zero-pad
    (level 0, the background) to `pad_to` x `pad_to`.

    Args:
        size: image side after resizing.
        levels: number of intensity levels, in [2, 256].
        path: passed to `load_fashion_mnist`.
        pad_to: optional final side (>= `size`), e.g. 32.
        limit: optional number of images to keep from each split (the first
            ones), for quick runs.
        interpolation: `"bilinear"` (the book) or `"area"`.
        download: passed to `load_fashion_mnist`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: int32 images of shape
        (N, side, side, 1) with values in [0, levels), side = `pad_to` or
        `size`, and uint8 labels.

    Example:

    >>> (x_train, _), _ = load_fashion_mnist_for_pixelcnn(size=16, levels=4)
    >>> x_train.shape, int(x_train.max())
    ((60000, 16, 16, 1), 3)
    """
    size = check_int("size", size, minimum=1)
    levels = check_int("levels", levels, minimum=2, maximum=256)
    if pad_to is not None:
        pad_to = check_int("pad_to", pad_to, minimum=size)
    if limit is not None:
        limit = check_int("limit", limit, minimum=1)
    check_choice("interpolation", interpolation, ("bilinear", "area"))

    splits = load_fashion_mnist(path=path, download=download)
    out = []
    for x, y in splits:
        if limit is not None:
            x, y = x[:limit], y[:limit]
        if x.shape[1:] != (size, size):
            x = resize_images(x, size, interpolation=interpolation)
        x = quantize(x, levels)
        if pad_to is not None:
            x = pad_images(x, pad_to)
        out.append((x[..., None].astype(np.int32), y))
    return tuple(out)
