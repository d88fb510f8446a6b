"""`python -m keras_ar.compress MODEL.keras IN OUT` and
`python -m keras_ar.decompress MODEL.keras IN OUT`.

Inputs of `compress` (and outputs of `decompress`, by file extension):

- `.npy`: int array `(N, *event_shape)` (images, sequences, token ids); one
  example without the batch axis, or grayscale images `(N, H, W)`, also
  work. `decompress` writes `(N, *event_shape)` (grayscale images keep
  their channel axis), as uint8 when the model has at most 256 levels, else
  int32 (the values are exact either way).
- `.npz`: `x` and, for a class-conditional model, `labels`.
- `.png` (any Pillow can read on input): one image, converted to grayscale
  or RGB to match the model's channels; its values must be below the
  model's `levels` (256 for 8-bit images).
- `.txt`: one text per line, for a text model with a tokenizer and a
  `pad_token_id`: each text is coded as its token ids and its end token; the
  decoded file holds the tokenizer's detokenization of the ids (the same
  text for a lossless tokenizer, else its normal form, e.g. lower case).

`--labels` gives class labels (one int for all examples, or one per
example, comma-separated). Mistakes print one `error:` line and exit 2.
"""

import argparse
import os
import sys

import numpy as np

IMAGE_EXTENSIONS = (".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".jpg", ".jpeg")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"error: {message}\n")


def _parser(prog, description):
    parser = _Parser(prog=prog, description=description)
    parser.add_argument("model", help="the model's .keras file")
    parser.add_argument("input", help="the file to read")
    parser.add_argument("output", help="the file to write")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar and no summary"
    )
    return parser


def main_compress(argv=None):
    parser = _parser(
        "python -m keras_ar.compress",
        "Compress images (.npy, .npz, .png) or texts (.txt) losslessly with a "
        "keras_ar model.",
    )
    parser.add_argument(
        "--labels",
        default=None,
        help="class labels: one int, or one per example separated by commas",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="examples coded together"
    )
    args = parser.parse_args(argv)
    try:
        _check_input(args.input)
        model = _load_model(args.model)
        x, labels = _read(model, args.input)
        if args.labels is not None:
            if labels is not None:
                raise ValueError("labels given twice: in the .npz file and --labels")
            labels = _parse_labels(args.labels, len(x))
        from keras_ar.compression import compress

        verbose = 0 if args.quiet else "auto"
        data = compress(
            model, x, labels=labels, batch_size=args.batch_size, verbose=verbose
        )
        _write_bytes(args.output, data)
    except (ValueError, TypeError, OSError, ImportError) as error:
        parser.exit(2, f"error: {_one_line(error)}\n")
    if not args.quiet:
        dims = int(np.prod(x.shape))
        print(
            f"{len(x)} examples, {x.size} values -> {len(data)} bytes "
            f"({8 * len(data) / dims:.4f} bits per value, header included)"
        )
    return 0


def main_decompress(argv=None):
    parser = _parser(
        "python -m keras_ar.decompress",
        "Decompress a file written by `python -m keras_ar.compress` with the "
        "same model, to .npy, .npz, .png or .txt.",
    )
    args = parser.parse_args(argv)
    try:
        _check_input(args.input)
        _output_kind(args.output)
        model = _load_model(args.model)
        with open(args.input, "rb") as file:
            data = file.read()
        from keras_ar.compression import decompress

        result = decompress(model, data, verbose=0 if args.quiet else "auto")
        x, labels = result if isinstance(result, tuple) else (result, None)
        _write(model, args.output, x, labels)
    except (ValueError, TypeError, OSError, ImportError) as error:
        parser.exit(2, f"error: {_one_line(error)}\n")
    if not args.quiet:
        print(f"{len(x)} examples of shape {x.shape[1:]} -> {args.output}")
    return 0


# ----------------------------------------------------------------------
def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _check_input(path):
    if not os.path.isfile(path):
        raise ValueError(f"input {path!r} is not a file")


def _load_model(path):
    if not os.path.isfile(path):
        raise ValueError(f"model {path!r} is not a file")
    if not path.endswith(".keras"):
        raise ValueError(f"model {path!r} is not a .keras file")
    import keras

    import keras_ar  # noqa: F401  (registers the classes)
    from keras_ar.models.base import AutoregressiveModel

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 (Keras raises many kinds)
        raise ValueError(f"cannot load model {path!r}: {_one_line(error)}") from None
    if not isinstance(model, AutoregressiveModel):
        raise ValueError(f"model {path!r} is not a keras_ar model")
    return model


def _is_text_model(model):
    from keras_ar.models.text_model import TextAutoregressiveModel

    return isinstance(model, TextAutoregressiveModel)


def _read(model, path):
    """`(x, labels or None)` from an input file."""
    lower = path.lower()
    if lower.endswith(".npy"):
        return _as_batch(model, np.load(path, allow_pickle=False)), None
    if lower.endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive:
                raise ValueError(
                    f"{path!r} must hold an array `x` (and `labels`), got "
                    f"{sorted(archive.files)}"
                )
            labels = archive["labels"] if "labels" in archive else None
            return _as_batch(model, archive["x"]), labels
    if lower.endswith(".txt"):
        return _read_texts(model, path), None
    if lower.endswith(IMAGE_EXTENSIONS):
        return _read_image(model, path), None
    raise ValueError(
        f"input {path!r}: unknown kind of file (use .npy, .npz, .png or .txt)"
    )


def _as_batch(model, x):
    shape = tuple(model.event_shape)
    if x.ndim == len(shape) and all(
        e is None or e == d for e, d in zip(shape, x.shape)
    ):
        return x[None]
    image_shape = getattr(model, "image_shape", None)
    if (
        image_shape is not None
        and image_shape[-1] == 1
        and x.shape[1:] == image_shape[:2]
    ):
        return x[..., None]
    return x


def _read_image(model, path):
    image_shape = getattr(model, "image_shape", None)
    if image_shape is None:
        raise ValueError(f"{type(model).__name__} is not an image model: use .npy")
    from keras_ar.optional import import_optional

    pil = import_optional("PIL.Image", "reading images", "compression", "Pillow")
    with pil.open(path) as image:
        channels = image_shape[-1]
        if channels not in (1, 3):
            raise ValueError(
                f"the model takes {channels}-channel images: use .npy, not an image file"
            )
        array = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    return array.reshape((1,) + array.shape[:2] + (channels,))


def _read_texts(model, path):
    if not _is_text_model(model):
        raise ValueError(f"{type(model).__name__} is not a text model: use .npy")
    if model.pad_token_id is None:
        raise ValueError(
            "the model has no pad_token_id (no end-of-text token): texts of "
            "different lengths cannot be coded; use .npy token ids"
        )
    if model.tokenizer is None:
        raise ValueError("the model has no tokenizer: use .npy token ids")
    with open(path, encoding="utf-8") as file:
        lines = file.read().splitlines()
    if not lines:
        raise ValueError(f"input {path!r} holds no text")
    length = model.sequence_length
    encoded = [model.encode(line) for line in lines]
    longest = max(len(ids) for ids in encoded)
    if length is None:
        length = longest + 1
    for number, ids in enumerate(encoded, 1):
        if len(ids) > length:
            raise ValueError(
                f"line {number} has {len(ids)} tokens; the model takes at most {length}"
            )
    x = np.full((len(lines), length), model.pad_token_id, "int32")
    for row, ids in enumerate(encoded):
        x[row, : len(ids)] = ids
    return x


def _parse_labels(text, count):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(
            f"--labels must be ints separated by commas, got {text!r}"
        ) from None
    if len(values) == 1:
        return np.full((count,), values[0], "int32")
    return np.asarray(values, "int32")


def _write_bytes(path, data):
    with open(path, "wb") as file:
        file.write(data)


def _output_kind(path):
    lower = path.lower()
    for kind in (".npy", ".npz", ".png", ".txt"):
        if lower.endswith(kind):
            return kind
    raise ValueError(f"output {path!r}: use .npy, .npz, .png or .txt")


def _write(model, path, x, labels):
    kind = _output_kind(path)
    dtype = "uint8" if model.levels <= 256 and not _is_text_model(model) else "int32"
    if kind == ".npy":
        if labels is not None:
            raise ValueError("the data has class labels: write a .npz to keep them")
        np.save(path, x.astype(dtype))
    elif kind == ".npz":
        arrays = {"x": x.astype(dtype)}
        if labels is not None:
            arrays["labels"] = labels
        np.savez(path, **arrays)
    elif kind == ".png":
        if getattr(model, "image_shape", None) is None or model.levels > 256:
            raise ValueError("the data is not 8-bit images: write a .npy")
        if len(x) != 1 or x.shape[-1] not in (1, 3):
            raise ValueError(
                f"the data holds {len(x)} images of shape {x.shape[1:]}: a .png "
                "holds one grayscale or RGB image; write a .npy"
            )
        from keras_ar.optional import import_optional

        pil = import_optional("PIL.Image", "writing images", "compression", "Pillow")
        image = x[0, ..., 0] if x.shape[-1] == 1 else x[0]
        pil.fromarray(image.astype("uint8")).save(path)
    else:
        if not _is_text_model(model) or model.tokenizer is None:
            raise ValueError("the model has no tokenizer: write a .npy")
        texts = model.decode(x)
        with open(path, "w", encoding="utf-8") as file:
            file.write("".join(text + "\n" for text in texts))


def run(main):
    sys.exit(main())
