"""Sampling speed, side by side in one run: the book's loop vs keras_ar.

For each case, with the same model weights and batch, on the backend chosen:

- "book loop": the book's sampler, `model.predict` on the whole input once per
  generated position from a Python loop (image and text models only);
- `generate(use_cache=False)`: keras_ar's compiled loop, a full forward pass
  per step (the reference path);
- `generate(use_cache=True)`: the compiled incremental path.

First call (compile included) and steady state (the second call, same
shapes) are reported separately, as samples per second, with the ratios
against the book's loop and against the uncached path. Writes a markdown
table and a plot of time against output size.

    KERAS_BACKEND=jax python benchmarks/generate.py --out runs/bench
    python benchmarks/generate.py --backend torch --cases pixelcnn16,wavenet

These are measurements, not tests: nothing here asserts a speed.
"""

import argparse
import json
import os
import sys
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default=None, help="tensorflow, jax or torch")
    parser.add_argument(
        "--cases",
        default=(
            "pixelcnn16,pixelcnn28,gated,pixelcnnpp,wavenet,lstm,"
            "transformer_lm,image_transformer"
        ),
        help="comma-separated cases to run",
    )
    parser.add_argument("--num-samples", type=int, default=16)
    parser.add_argument("--wavenet-steps", type=int, default=16000)
    parser.add_argument(
        "--skip-slow-baselines",
        action="store_true",
        help="skip the uncached WaveNet path beyond 2048 steps (it takes hours)",
    )
    parser.add_argument("--out", default="runs/benchmarks")
    return parser.parse_args(argv)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fn, repeats=1):
    """(first call seconds, steady-state seconds = best of `repeats`)."""
    first = timed(fn)
    steady = min(timed(fn) for _ in range(repeats))
    return first, steady


def book_image_loop(model, num_samples, temperature=1.0):
    """The book's PixelCNN sampler (ch. 5): predict the whole image for each
    pixel and sample that pixel from the softmax, from Python."""
    import numpy as np

    height, width, channels = model.image_shape
    images = np.zeros((num_samples, height, width, channels), "int32")
    rng = np.random.default_rng(0)
    for row in range(height):
        for col in range(width):
            for ch in range(channels):
                logits = model.predict(images, verbose=0)[:, row, col, ch, :]
                logits = logits / temperature
                probs = np.exp(logits - logits.max(-1, keepdims=True))
                probs /= probs.sum(-1, keepdims=True)
                images[:, row, col, ch] = [rng.choice(len(p), p=p) for p in probs]
    return images


def book_text_loop(model, num_samples, length, temperature=1.0, prompt=None):
    """The book's TextGenerator: predict on the whole sequence per token
    (from `prompt`, default one token, to `length` tokens)."""
    import numpy as np

    tokens = np.ones((num_samples, 1), "int32") if prompt is None else prompt
    rng = np.random.default_rng(0)
    for _ in range(length - tokens.shape[1]):
        logits = model.predict(tokens, verbose=0)[:, -1, :] / temperature
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        nxt = np.array([rng.choice(len(p), p=p) for p in probs], "int32")[:, None]
        tokens = np.concatenate([tokens, nxt], axis=1)
    return tokens


def image_case(name, model, num_samples, book=True, uncached=True):
    row = {"case": name, "output_size": int(model.image_shape[0] * model.image_shape[1])}
    if book:
        row["book_first"], row["book_steady"] = measure(
            lambda: book_image_loop(model, num_samples)
        )
    if uncached:
        row["uncached_first"], row["uncached_steady"] = measure(
            lambda: model.generate(num_samples=num_samples, seed=0, use_cache=False)
        )
    row["cached_first"], row["cached_steady"] = measure(
        lambda: model.generate(num_samples=num_samples, seed=0, use_cache=True), repeats=2
    )
    return row


def run_case(case, args):
    import numpy as np

    n = args.num_samples
    if case == "pixelcnn16":
        from keras_ar.models.pixelcnn import PixelCNN

        # The book's Fashion-MNIST model: 16x16, 4 levels, 128 filters.
        return [image_case("PixelCNN 16x16, 4 levels (book)", PixelCNN((16, 16, 1), levels=4), n)]
    if case == "pixelcnn28":
        from keras_ar.models.pixelcnn import PixelCNN

        model = PixelCNN((28, 28, 1), levels=256, filters=64)
        return [
            image_case(
                "PixelCNN 28x28, 256 levels", model, n, book=False
            )
        ]  # fmt: skip
    if case == "gated":
        from keras_ar.models.gated_pixelcnn import GatedPixelCNN

        model = GatedPixelCNN((16, 16, 1), levels=4)
        return [image_case("GatedPixelCNN 16x16, 4 levels", model, n)]
    if case == "pixelcnnpp":
        from keras_ar.models.pixelcnn_plus_plus import PixelCNNPlusPlus

        # The book's mixture model settings: 32x32, 5 logistics, 32 filters.
        model = PixelCNNPlusPlus(
            (32, 32, 1), levels=256, num_mixtures=5, num_filters=32,
            num_resnet=1, num_hierarchies=2, dropout_rate=0.3,
        )  # fmt: skip
        return [
            image_case(
                "PixelCNN++ 32x32 (book's mixture settings)", model, n, book=False
            )
        ]  # fmt: skip
    if case == "wavenet":
        from keras_ar.models.wavenet import WaveNet

        # Two stacks of dilations 1..512 with kernel 2: receptive field 2047.
        model = WaveNet(levels=256, residual_channels=32, skip_channels=32, num_stacks=2)
        rows = []
        batch = 1
        for steps in sorted({512, 2048, args.wavenet_steps}):
            row = {"case": f"WaveNet RF {model.receptive_field}", "output_size": steps}
            uncached = steps <= 2048 or not args.skip_slow_baselines
            if uncached:
                row["uncached_first"], row["uncached_steady"] = measure(
                    lambda s=steps, b=batch: model.generate(num_samples=b, length=s, seed=0, use_cache=False)
                )
            row["cached_first"], row["cached_steady"] = measure(
                lambda s=steps, b=batch: model.generate(num_samples=b, length=s, seed=0, use_cache=True)
            )
            row["num_samples"] = batch
            rows.append(row)
        return rows
    if case == "lstm":
        from keras_ar.models.recurrent_lm import RecurrentLM

        # The book's LSTM: vocab 10000, embedding 100, 128 units; 200 tokens.
        model = RecurrentLM(vocab_size=10000, embedding_dim=100, units=128)
        length = 200
        row = {"case": "RecurrentLM LSTM, 200 tokens (book)", "output_size": length}
        row["book_first"], row["book_steady"] = measure(
            lambda: book_text_loop(model, n, length)
        )
        prompt = np.ones((n, 1), "int32")
        for key, cache in (("uncached", False), ("cached", True)):
            row[f"{key}_first"], row[f"{key}_steady"] = measure(
                lambda c=cache: model.generate(
                    prompt=prompt, max_length=length, num_samples=n, seed=0, use_cache=c,
                    stop_token_ids=None,  # all 200 tokens, as the book times
                )
            )
        return [row]
    if case == "transformer_lm":
        from keras_ar.models.transformer_lm import TransformerLM

        # The recipe's quick model with the book's 10000 words: a 10-token
        # prompt continued by 200 tokens.
        model = TransformerLM(
            vocab_size=10000, sequence_length=256, num_layers=2, num_heads=4,
            hidden_dim=128, intermediate_dim=256,
        )  # fmt: skip
        prompt = np.random.default_rng(0).integers(1, 10000, (n, 10)).astype("int32")
        length = prompt.shape[1] + 200
        row = {"case": "TransformerLM, 10-token prompt + 200 tokens", "output_size": 200}
        row["book_first"], row["book_steady"] = measure(
            lambda: book_text_loop(model, n, length, prompt=prompt)
        )
        for key, cache in (("uncached", False), ("cached", True)):
            row[f"{key}_first"], row[f"{key}_steady"] = measure(
                lambda c=cache: model.generate(
                    prompt=prompt, max_length=length, num_samples=n, seed=0,
                    use_cache=c, stop_token_ids=None,  # all 200 tokens
                )
            )
        return [row]
    if case == "image_transformer":
        from keras_ar.models.image_transformer import ImageTransformer

        # The book's image size and levels with a small ImageGPT.
        model = ImageTransformer(
            (16, 16, 1), levels=4, num_layers=2, num_heads=4, hidden_dim=128,
            intermediate_dim=256,
        )  # fmt: skip
        return [image_case("ImageTransformer 16x16, 4 levels", model, n)]
    raise ValueError(f"unknown case {case!r}")


def format_table(rows, num_samples):
    head = (
        "| case | size | book loop s | uncached s (first) | cached s (first) "
        "| cached samples/s | cached vs book | cached vs uncached |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        n = r.get("num_samples", num_samples)

        def fmt(key, r=r):
            steady, first = r.get(f"{key}_steady"), r.get(f"{key}_first")
            return "-" if steady is None else f"{steady:.2f} ({first:.2f})"

        cached = r["cached_steady"]
        vs_book = f"{r['book_steady'] / cached:.1f}x" if "book_steady" in r else "-"
        vs_unc = f"{r['uncached_steady'] / cached:.1f}x" if "uncached_steady" in r else "-"
        lines.append(
            f"| {r['case']} | {r['output_size']} | {fmt('book')} | {fmt('uncached')} "
            f"| {fmt('cached')} | {n / cached:.2f} | {vs_book} | {vs_unc} |"
        )
    return head + "\n".join(lines) + "\n"


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, style in (("book", "s--"), ("uncached", "o-"), ("cached", "^-")):
        pts = [(r["output_size"], r[f"{key}_steady"], r["case"]) for r in rows if f"{key}_steady" in r]
        for case in sorted({p[2] for p in pts}):
            xs = [p[0] for p in pts if p[2] == case]
            ys = [p[1] for p in pts if p[2] == case]
            ax.plot(xs, ys, style, label=f"{case}: {key}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("output size (pixels or steps)")
    ax.set_ylabel("seconds (steady state)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    import keras

    backend = keras.backend.backend()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for case in args.cases.split(","):
        print(f"[{backend}] {case} ...", flush=True)
        try:
            case_rows = run_case(case.strip(), args)
        except ImportError as err:
            print(f"  skipped: {err}")
            continue
        for row in case_rows:
            row["backend"] = backend
            print("  ", json.dumps(row), flush=True)
        rows.extend(case_rows)
    table = format_table(rows, args.num_samples)
    header = (
        f"Backend {backend}, keras {keras.__version__}, {os.cpu_count()} CPUs, "
        f"{args.num_samples} samples per call (WaveNet: 1). Seconds are steady "
        "state (first call, with compilation, in brackets).\n\n"
    )
    with open(os.path.join(args.out, f"generate_{backend}.md"), "w") as f:
        f.write(header + table)
    with open(os.path.join(args.out, f"generate_{backend}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    plot(rows, os.path.join(args.out, f"generate_{backend}.png"))
    print(header + table)


if __name__ == "__main__":
    main()
