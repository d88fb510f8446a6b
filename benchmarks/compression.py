"""Lossless compression with a keras_ar model, backend by backend.

For one saved PixelCNN (e.g. the model `recipes/compress_fashion_mnist.py`
trains) and the first `--num-images` Fashion-MNIST test images (28x28,
8-bit), each backend asked for runs in its own process (Keras fixes its
backend at import) and reports, with the recipe's `measure_model`: the
model's NLL, the file size (payload and with the header), the coding
overhead, encode and decode images per second, and decode / generate of
the same batch. The generic codecs (lzma, bzip2, gzip, PNG, WebP; the
recipe's `generic_codec_bits`, headers excluded) are computed once.

    python benchmarks/compression.py --model runs/compress_quick/model.keras \
        --backends jax,tensorflow,torch --num-images 200 --out runs/bench_compression

Writes `compression.json` and `compression.md` under `--out`. These are
measurements, not tests: nothing here asserts a figure.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _worker(model_path, num_images, data):
    """In a child process: the recipe's figures on this backend, as JSON."""
    import keras

    from keras_ar.datasets.fashion_mnist import load_fashion_mnist
    from recipes.compress_fashion_mnist import measure_model

    _, (x_test, _) = load_fashion_mnist(path=data)
    x = x_test[:num_images, ..., None].astype("int32")
    model = keras.saving.load_model(model_path, compile=False)
    figures = measure_model(model, x)
    figures["backend"] = keras.backend.backend()
    print("RESULT " + json.dumps(figures))


def run_backend(backend, args):
    env = {**os.environ, "KERAS_BACKEND": backend}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    command = [sys.executable, os.path.abspath(__file__), "--worker"]
    command += ["--model", args.model]
    command += ["--num-images", str(args.num_images)]
    if args.data:
        command += ["--data", args.data]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{backend} failed:\n{result.stderr[-3000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a PixelCNN .keras file")
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--num-images", type=int, default=200)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default="runs/bench_compression")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.model, args.num_images, args.data)

    import numpy as np

    from keras_ar.datasets.fashion_mnist import load_fashion_mnist
    from recipes.compress_fashion_mnist import generic_codec_bits

    _, (x_test, _) = load_fashion_mnist(path=args.data)
    codecs = generic_codec_bits(np.asarray(x_test[: args.num_images]))
    rows = {}
    for backend in args.backends.split(","):
        print(f"{backend} ...", flush=True)
        rows[backend] = run_backend(backend, args)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "compression.json"), "w") as file:
        json.dump({"backends": rows, "generic_codecs": codecs}, file, indent=2)
    fields = [
        ("model NLL, bits/dim", "nll_bits_per_dim", "{:.4f}"),
        ("file (payload), bits/dim", "payload_bits_per_dim", "{:.4f}"),
        ("file (with header), bits/dim", "file_bits_per_dim", "{:.4f}"),
        ("overhead vs NLL, %", "overhead_percent", "{:.3f}"),
        ("exact round trip", "exact_round_trip", "{}"),
        ("encode, images/s", "encode_images_per_second", "{:.1f}"),
        ("decode, images/s", "decode_images_per_second", "{:.1f}"),
        ("generate, s", "generate_seconds", "{:.2f}"),
        ("decode / generate", "decode_over_generate", "{:.2f}"),
        ("encode / generate", "encode_over_generate", "{:.2f}"),
        ("first encode (compiles), s", "first_encode_seconds", "{:.1f}"),
    ]
    lines = ["| | " + " | ".join(rows) + " |", "|---" * (len(rows) + 1) + "|"]
    for label, key, form in fields:
        cells = [form.format(rows[b][key]) for b in rows]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| generic codec (headers excluded) | bits/dim |")
    lines.append("|---|---:|")
    for name, bits in sorted(codecs.items(), key=lambda kv: kv[1]):
        lines.append(f"| {name} | {bits:.4f} |")
    text = "\n".join(lines)
    with open(os.path.join(args.out, "compression.md"), "w") as file:
        file.write(text + "\n")
    print(text)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
