"""Lossless compression of Fashion-MNIST with a PixelCNN (keras_ar.compression).

Trains (or loads, `--model`) a PixelCNN on the original 28x28 8-bit images
(256 levels), compresses test images with it, checks that they decode
exactly, and compares the file size with the model's own NLL (the coding
overhead) and with generic lossless codecs on the same images:

- lzma (raw LZMA2, preset 9e), bzip2 (level 9) and deflate (gzip's codec,
  level 9, raw) on the raw bytes of all images together, no container
  headers;
- PNG (Pillow, optimize) and WebP lossless (Pillow, method 6), one file per
  image, counting only the compressed image data (the PNG IDAT and WebP
  VP8L chunks), so that per-file headers are excluded as for the others.

The model's file is one file for all images; its 56-byte header is
reported both ways (payload only, and with the header).

It also times encoding and decoding (images per second, after a first
call that compiles the coding loop) against `generate` of the same number
of images and batch.

Run (the quick setting trains a small model for minutes on a CPU and
compresses the first 200 test images; --full is meant for a GPU):

    python recipes/compress_fashion_mnist.py --quick --out runs/compress_quick
    python recipes/compress_fashion_mnist.py --model runs/compress_quick/model.keras \
        --num-images 1000 --out runs/compress_1000

Outputs in --out: results.json, results.md (the table), bits_per_dim.png,
model.keras (when trained).
"""

import argparse
import bz2
import json
import lzma
import math
import os
import struct
import sys
import time
import zlib

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PRESETS = {
    # Minutes on 2 CPU cores.
    "quick": dict(
        filters=32, kernel_size=7, num_residual_blocks=3, num_head_layers=1,
        learning_rate=2e-3, batch_size=64, epochs=2, train_limit=6000,
        num_images=200,
    ),
    # The book's PixelCNN at 256 levels, the whole training and test sets.
    "full": dict(
        filters=128, kernel_size=7, num_residual_blocks=5, num_head_layers=2,
        learning_rate=5e-4, batch_size=128, epochs=30, train_limit=None,
        num_images=10000,
    ),
    # Seconds: for the tests.
    "tiny": dict(
        filters=8, kernel_size=3, num_residual_blocks=1, num_head_layers=1,
        learning_rate=2e-3, batch_size=16, epochs=1, train_limit=32,
        num_images=4,
    ),
}  # fmt: skip


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    preset = parser.add_mutually_exclusive_group()
    for name in PRESETS:
        preset.add_argument(
            f"--{name}", dest="preset", action="store_const", const=name
        )
    parser.add_argument("--out", default="runs/compress_quick")
    parser.add_argument("--model", default=None, help="a PixelCNN .keras to load")
    parser.add_argument("--num-images", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--data", default=None, help="folder of the Fashion-MNIST files"
    )
    parser.add_argument(
        "--backend", default=None, choices=("jax", "tensorflow", "torch")
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    parser.set_defaults(preset="quick")
    return parser


# -- generic codecs ---------------------------------------------------------
def _png_data_bytes(png):
    """Bytes in the IDAT chunks of a PNG file (its compressed pixels)."""
    total, position = 0, 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        if png[position + 4 : position + 8] == b"IDAT":
            total += length
        position += 12 + length
    return total


def _webp_data_bytes(webp):
    """Bytes in the VP8L chunk of a lossless WebP file."""
    position = 12
    while position < len(webp):
        kind = webp[position : position + 4]
        (length,) = struct.unpack("<I", webp[position + 4 : position + 8])
        if kind == b"VP8L":
            return length
        position += 8 + length + (length & 1)
    raise ValueError("not a lossless WebP")


def generic_codec_bits(images):
    """Bits per dimension of lzma, bzip2, gzip, PNG and WebP lossless on
    uint8 `images (N, H, W)` (headers excluded; see the module docstring)."""
    import io

    import numpy as np
    from PIL import Image

    images = np.asarray(images, "uint8")
    dims = images.size
    raw = images.tobytes()
    sizes = {
        "lzma": len(
            lzma.compress(
                raw,
                format=lzma.FORMAT_RAW,
                filters=[{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}],
            )
        ),
        "bzip2": len(bz2.compress(raw, 9)) - 4,  # "BZh9"
    }
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    sizes["gzip"] = len(deflate.compress(raw) + deflate.flush())
    png = webp = 0
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", optimize=True)
        png += _png_data_bytes(buffer.getvalue())
        buffer = io.BytesIO()
        Image.fromarray(image).save(
            buffer, format="WEBP", lossless=True, quality=100, method=6
        )
        webp += _webp_data_bytes(buffer.getvalue())
    sizes["png"], sizes["webp"] = png, webp
    return {name: 8.0 * size / dims for name, size in sizes.items()}


# -- the model ----------------------------------------------------------------
def train_model(settings, x_train, seed, verbose):
    import keras

    from keras_ar.models import PixelCNN

    keras.utils.set_random_seed(seed)
    model = PixelCNN(
        (28, 28, 1),
        levels=256,
        filters=settings["filters"],
        kernel_size=settings["kernel_size"],
        num_residual_blocks=settings["num_residual_blocks"],
        num_head_layers=settings["num_head_layers"],
    )
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    model.fit(
        x_train,
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        verbose=verbose,
    )
    return model


def measure_model(model, x, verbose=0):
    """Compresses `x` with `model` (twice: the first call compiles), decodes
    it, checks the round trip, and times `generate` of as many images.

    Returns a dict of figures (bits per dimension, seconds, images/s)."""
    import numpy as np

    from keras_ar.compression import HEADER_SIZE, compress, decompress

    dims = x.size
    nll_bits = float(-model.log_prob(x).sum() / math.log(2.0))
    start = time.perf_counter()
    data = compress(model, x, verbose=verbose)
    first_encode = time.perf_counter() - start
    start = time.perf_counter()
    data = compress(model, x, verbose=verbose)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    decoded = decompress(model, data, verbose=verbose)
    decode = time.perf_counter() - start
    exact = bool(np.array_equal(decoded, x))
    count = len(x)
    model.generate(count, seed=0, verbose=0)  # compiles
    start = time.perf_counter()
    model.generate(count, seed=0, verbose=0)
    generate = time.perf_counter() - start
    payload_bits = 8.0 * (len(data) - HEADER_SIZE)
    return {
        "images": count,
        "exact_round_trip": exact,
        "bytes": len(data),
        "nll_bits_per_dim": nll_bits / dims,
        "file_bits_per_dim": 8.0 * len(data) / dims,
        "payload_bits_per_dim": payload_bits / dims,
        "overhead_percent": 100.0 * (payload_bits / nll_bits - 1.0),
        "overhead_with_header_percent": 100.0 * (8.0 * len(data) / nll_bits - 1.0),
        "first_encode_seconds": first_encode,
        "encode_seconds": encode,
        "decode_seconds": decode,
        "generate_seconds": generate,
        "encode_images_per_second": count / encode,
        "decode_images_per_second": count / decode,
        "decode_over_generate": decode / generate,
        "encode_over_generate": encode / generate,
    }


def table(figures, codecs):
    model_row = figures["payload_bits_per_dim"]
    rows = [
        ("model NLL (log_prob)", figures["nll_bits_per_dim"]),
        ("keras_ar.compression, payload", model_row),
        ("keras_ar.compression, with the 56-byte header", figures["file_bits_per_dim"]),
    ] + [(name, bits) for name, bits in sorted(codecs.items(), key=lambda kv: kv[1])]
    lines = ["| method | bits/dim | vs keras_ar payload |", "|---|---:|---:|"]
    for name, bits in rows:
        lines.append(f"| {name} | {bits:.4f} | {bits / model_row:.3f}x |")
    return "\n".join(lines)


def plot(figures, codecs, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["model NLL", "keras_ar file"] + sorted(codecs, key=codecs.get)
    values = [figures["nll_bits_per_dim"], figures["file_bits_per_dim"]]
    values += [codecs[n] for n in names[2:]]
    colors = ["#888888", "#1f77b4"] + ["#ff7f0e"] * len(codecs)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(names, values, color=colors)
    for i, v in enumerate(values):
        ax.text(i, v + 0.03, f"{v:.2f}", ha="center", fontsize=8)
    ax.set_ylabel("bits per dimension")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.backend:
        if "keras" in sys.modules:
            import keras

            if keras.backend.backend() != args.backend:
                raise SystemExit(f"error: keras already runs {keras.backend.backend()}")
        os.environ["KERAS_BACKEND"] = args.backend
    import keras

    from keras_ar.datasets.fashion_mnist import load_fashion_mnist

    settings = dict(PRESETS[args.preset])
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    if args.num_images is not None:
        settings["num_images"] = args.num_images
    os.makedirs(args.out, exist_ok=True)
    (x_train, _), (x_test, _) = load_fashion_mnist(path=args.data)
    x_test = x_test[: settings["num_images"], ..., None].astype("int32")
    wall = time.perf_counter()
    train_seconds = None
    if args.model:
        model = keras.saving.load_model(args.model, compile=False)
        model_path = args.model
    else:
        x_train = x_train[: settings["train_limit"] or None, ..., None].astype("int32")
        start = time.perf_counter()
        model = train_model(settings, x_train, args.seed, args.verbose)
        train_seconds = time.perf_counter() - start
        model_path = os.path.join(args.out, "model.keras")
        model.save(model_path)
    figures = measure_model(model, x_test, verbose=0)
    codecs = generic_codec_bits(x_test[..., 0])
    backend = keras.backend.backend()
    results = {
        "backend": backend,
        "preset": args.preset,
        "settings": settings,
        "model": model_path,
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - wall,
        "model_figures": figures,
        "generic_codecs_bits_per_dim": codecs,
        "beats_every_generic_codec": figures["file_bits_per_dim"]
        < min(codecs.values()),
        "command": "python " + " ".join([sys.argv[0]] + list(argv or sys.argv[1:])),
    }
    with open(os.path.join(args.out, "results.json"), "w") as file:
        json.dump(results, file, indent=2)
    text = table(figures, codecs)
    with open(os.path.join(args.out, "results.md"), "w") as file:
        file.write(text + "\n")
    title = (
        f"Fashion-MNIST test, first {len(x_test)} images, 28x28 8-bit; "
        f"PixelCNN ({args.preset}), {backend}"
    )
    plot(figures, codecs, os.path.join(args.out, "bits_per_dim.png"), title)
    print(text)
    print(
        f"round trip exact: {figures['exact_round_trip']}; encode "
        f"{figures['encode_images_per_second']:.1f} images/s, decode "
        f"{figures['decode_images_per_second']:.1f} images/s, decode / generate "
        f"{figures['decode_over_generate']:.2f}"
    )
    if not figures["exact_round_trip"]:
        raise SystemExit("error: the round trip was not exact")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
