"""Sampling speed, side by side in one run, on the backend chosen.

For each case (a model family at its book or paper settings), with the same
weights and batch:

- "forward": ONE forward pass over the whole batch (`predict_on_batch`,
  Keras's compiled predict step): the least work any sampler can do, since
  every output position must be computed once;
- "book loop": the book's sampler, `model.predict` on the whole input once
  per generated position from a Python loop (image and text models);
- `generate(use_cache=False)`: keras_ar's compiled loop, a full forward pass
  per step (the reference path);
- `generate(use_cache=True)`: the compiled incremental path.

Reported: steady-state seconds (best of a few calls, same shapes) and the
first call (compilation included); the ratio cached generate / one forward
pass; cached against uncached and against the book's loop. Writes a
markdown table, JSON and a plot under `--out`.

    KERAS_BACKEND=jax python benchmarks/generate.py --out runs/bench
    python benchmarks/generate.py --backend torch --cases pixelcnn16,wavenet

A case is one small registered function (see `@case` below): it builds the
model and returns `Case` rows. These are measurements, not tests: nothing
here asserts a speed.
"""

import argparse
import dataclasses
import json
import os
import sys
import time

CASES = {}


def case(name):
    """Registers `fn(args) -> list[Case]` under `name` (for `--cases`)."""

    def register(fn):
        CASES[name] = fn
        return fn

    return register


@dataclasses.dataclass
class Case:
    label: str
    model: object
    #: `generate` keyword arguments (num_samples, seed and use_cache are added).
    generate_kwargs: dict
    #: The input of one forward pass over the same batch.
    forward_input: object
    num_samples: int
    output_size: int
    #: `() -> samples`: the book's sampler, or None.
    book: object = None
    uncached: bool = True
    #: PyTorch: time the eager loop too (`--torch-loop both`).
    torch_loops: bool = False


# ----------------------------------------------------------------------------
# The book's samplers (Generative Deep Learning, 2nd ed., ch. 5)
def book_image_loop(model, num_samples, temperature=1.0):
    """PixelCNN: predict the whole image for each sub-pixel and sample that
    sub-pixel from the softmax, from Python."""
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


def image_case(label, model, n, book=False, uncached=True, **generate_kwargs):
    import numpy as np

    height, width, _ = model.image_shape
    labels = generate_kwargs.get("labels")
    x = np.zeros((n,) + model.image_shape, "int32")
    forward = x if labels is None else {"inputs": x, "labels": labels}
    return Case(
        label, model, generate_kwargs, forward, n, height * width,
        book=(lambda: book_image_loop(model, n)) if book else None,
        uncached=uncached,
    )  # fmt: skip


# ----------------------------------------------------------------------------
# The cases: one registered function per family.
@case("pixelcnn16")
def pixelcnn16(args):
    from keras_ar.models.pixelcnn import PixelCNN

    # The book's Fashion-MNIST model: 16x16, 4 levels, 128 filters.
    model = PixelCNN((16, 16, 1), levels=4)
    return [image_case("PixelCNN 16x16, 4 levels (book)", model, args.num_samples, book=True)]


@case("pixelcnn28")
def pixelcnn28(args):
    from keras_ar.models.pixelcnn import PixelCNN

    model = PixelCNN((28, 28, 1), levels=256, filters=64)
    # The uncached path (784 full passes) is left out: it takes minutes.
    return [image_case("PixelCNN 28x28, 256 levels", model, args.num_samples, uncached=False)]


@case("gated")
def gated(args):
    from keras_ar.models.gated_pixelcnn import GatedPixelCNN

    model = GatedPixelCNN((16, 16, 1), levels=4)
    return [image_case("GatedPixelCNN 16x16, 4 levels", model, args.num_samples, book=True)]


@case("pixelcnnpp")
def pixelcnnpp(args):
    from keras_ar.models.pixelcnn_plus_plus import PixelCNNPlusPlus

    # The book's mixture model settings: 32x32, 5 logistics, 32 filters.
    model = PixelCNNPlusPlus(
        (32, 32, 1), levels=256, num_mixtures=5, num_filters=32,
        num_resnet=1, num_hierarchies=2, dropout_rate=0.3,
    )  # fmt: skip
    label = "PixelCNN++ 32x32 (book's mixture settings)"
    # The uncached path (1024 full passes) is left out: it takes many minutes.
    return [image_case(label, model, args.num_samples, uncached=False)]


@case("pixelrnn28")
def pixelrnn28(args):
    from keras_ar.models.pixel_rnn import PixelRNN

    # 4 layers of h = 32 (not the paper's 12 x 128, to keep the uncached CPU
    # baseline in minutes), both kinds.
    return [
        image_case(
            f"PixelRNN {kind} 28x28, 256 levels",
            PixelRNN((28, 28, 1), levels=256, kind=kind, num_layers=4, hidden_dim=32),
            args.num_samples,
        )
        for kind in ("row_lstm", "diagonal_bilstm")
    ]


@case("pixelsnail")
def pixelsnail(args):
    from keras_ar.models.pixel_snail import PixelSNAIL

    # 28x28, 256 levels, the paper's mixture head; 2 blocks of 2 gated
    # resnets + attention, 64 filters.
    model = PixelSNAIL(
        (28, 28, 1), levels=256, num_mixtures=5, num_filters=64, num_blocks=2,
        num_resnet=2, value_dim=32, dropout_rate=0.0,
    )  # fmt: skip
    return [image_case("PixelSNAIL 28x28, 256 levels", model, args.num_samples)]


@case("made")
def made(args):
    import numpy as np

    from keras_ar.models.made import MADE

    # The paper's binarized MNIST model: 784 bits, one hidden layer of 500.
    model = MADE(input_dim=784, levels=2, hidden_units=(500,))
    n = args.num_samples
    x = np.zeros((n, 784), "int32")
    return [Case("MADE 784 bits, 500 hidden (paper)", model, {}, x, n, 784)]


@case("wavenet")
def wavenet(args):
    import numpy as np

    from keras_ar.models.wavenet import WaveNet

    # Two stacks of dilations 1..512 with kernel 2: receptive field 2047.
    model = WaveNet(levels=256, residual_channels=32, skip_channels=32, num_stacks=2)
    n = args.wavenet_samples
    rows = []
    for steps in sorted({512, 2048, args.wavenet_steps}):
        rows.append(
            Case(
                f"WaveNet RF {model.receptive_field}, {steps} steps", model,
                {"length": steps}, np.zeros((n, steps), "int32"), n, steps,
                uncached=steps <= 2048 or not args.skip_slow_baselines,
            )  # fmt: skip
        )
    return rows


@case("lstm")
def lstm(args):
    import numpy as np

    from keras_ar.models.recurrent_lm import RecurrentLM

    # The book's LSTM: vocab 10000, embedding 100, 128 units; 200 tokens.
    model = RecurrentLM(vocab_size=10000, embedding_dim=100, units=128)
    n, length = args.num_samples, 200
    # All 200 tokens: no stop at the end-of-text token.
    kwargs = {
        "prompt": np.ones((n, 1), "int32"),
        "max_length": length,
        "stop_token_ids": None,
    }
    return [
        Case(
            "RecurrentLM LSTM, 200 tokens (book)", model, kwargs,
            np.ones((n, length), "int32"), n, length,
            book=lambda: book_text_loop(model, n, length),
        )  # fmt: skip
    ]


@case("transformer_lm")
def transformer_lm(args):
    import numpy as np

    from keras_ar.models.transformer_lm import TransformerLM

    # The recipe's quick model with the book's 10000 words: a 10-token
    # prompt continued by 200 tokens.
    n = args.num_samples
    prompt = np.random.default_rng(0).integers(1, 10000, (n, 10)).astype("int32")
    length = prompt.shape[1] + 200
    # The model's context is exactly the generated length, so that "one
    # forward pass" covers the same positions as the sampler.
    model = TransformerLM(
        vocab_size=10000, sequence_length=length, num_layers=2, num_heads=4,
        hidden_dim=128, intermediate_dim=256,
    )  # fmt: skip
    # All 200 tokens: no stop at the end-of-text token.
    kwargs = {"prompt": prompt, "max_length": length, "stop_token_ids": None}
    return [
        Case(
            "TransformerLM, 10-token prompt + 200 tokens", model, kwargs,
            np.ones((n, length), "int32"), n, 200,
            book=lambda: book_text_loop(model, n, length, prompt=prompt),
        )  # fmt: skip
    ]


@case("image_transformer")
def image_transformer(args):
    from keras_ar.models.image_transformer import ImageTransformer

    # The book's image size and levels with a small ImageGPT.
    model = ImageTransformer(
        (16, 16, 1), levels=4, num_layers=2, num_heads=4, hidden_dim=128,
        intermediate_dim=256,
    )  # fmt: skip
    return [image_case("ImageTransformer 16x16, 4 levels", model, args.num_samples, book=True)]


# ----------------------------------------------------------------------------
def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fn, repeats=1):
    """(first call seconds, steady-state seconds = best of `repeats`)."""
    first = timed(fn)
    steady = min(timed(fn) for _ in range(repeats))
    return first, steady


def run_case(c):
    def generate(use_cache):
        return lambda: c.model.generate(
            num_samples=c.num_samples, seed=0, use_cache=use_cache, verbose=0,
            **c.generate_kwargs,
        )  # fmt: skip

    row = {"case": c.label, "output_size": c.output_size, "num_samples": c.num_samples}
    row["forward_first"], row["forward_steady"] = measure(
        lambda: c.model.predict_on_batch(c.forward_input), repeats=3
    )
    if c.torch_loops:
        # PyTorch: the eager loop, the default (the first-call policy: it
        # compiles only where that pays within the call) and the
        # torch.compile'd loop, side by side (keras_ar.backend reads the
        # setting at each call). The default runs before anything compiled.
        os.environ["KERAS_AR_TORCH_COMPILE"] = "0"
        row["eager_first"], row["eager_steady"] = measure(generate(True), repeats=2)
        os.environ.pop("KERAS_AR_TORCH_COMPILE")
        row["default_first"], row["default_steady"] = measure(generate(True))
        os.environ["KERAS_AR_TORCH_COMPILE"] = "1"
    row["cached_first"], row["cached_steady"] = measure(generate(True), repeats=2)
    if c.uncached:
        row["uncached_first"], row["uncached_steady"] = measure(generate(False))
    if c.book is not None:
        row["book_first"], row["book_steady"] = measure(c.book)
    return row


def format_table(rows):
    eager_column = any("eager_steady" in r for r in rows)
    head = (
        "| case | samples | size | forward s | cached s (first call) | uncached s "
        "| book loop s | cached / forward "
        + (
            "| eager cached s (first call) | eager cached / forward "
            "| default s (first call) | default first / eager first "
            if eager_column
            else ""
        )
        + "| cached vs uncached | cached vs book |\n"
        + "|---" * (14 if eager_column else 10)
        + "|\n"
    )
    lines = []
    for r in rows:
        cached = r["cached_steady"]

        def seconds(key, r=r):
            return "-" if f"{key}_steady" not in r else f"{r[f'{key}_steady']:.3g}"

        def speedup(key, r=r, cached=cached):
            if f"{key}_steady" not in r:
                return "-"
            return f"{r[f'{key}_steady'] / cached:.1f}x"

        eager = ""
        if eager_column:
            eager = "| - | - | - | - "
            if "eager_steady" in r:
                eager = (
                    f"| {r['eager_steady']:.3g} ({r['eager_first']:.3g}) "
                    f"| {r['eager_steady'] / r['forward_steady']:.1f}x "
                    f"| {r['default_steady']:.3g} ({r['default_first']:.3g}) "
                    f"| {r['default_first'] / r['eager_first']:.2f}x "
                )
        lines.append(
            f"| {r['case']} | {r['num_samples']} | {r['output_size']} "
            f"| {seconds('forward')} | {cached:.3g} ({r['cached_first']:.3g}) "
            f"| {seconds('uncached')} | {seconds('book')} "
            f"| {cached / r['forward_steady']:.1f}x {eager}| {speedup('uncached')} "
            f"| {speedup('book')} |"
        )
    return head + "\n".join(lines) + "\n"


def plot(rows, path, backend):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = [r["case"] for r in rows]
    cached = "cached generate" + (" (torch.compile)" if backend == "torch" else "")
    keys = [
        ("cached", cached, "tab:blue"),
        ("eager", "cached generate, eager loop", "tab:cyan"),
        ("uncached", "uncached generate", "tab:orange"),
        ("book", "book loop", "tab:red"),
    ]
    # Only the paths some row has, each in its own colour.
    keys = [k for k in keys if any(f"{k[0]}_steady" in r for r in rows)]
    width = 0.8 / len(keys)
    for k, (key, label, color) in enumerate(keys):
        offset = (k - (len(keys) - 1) / 2) * width
        xs = [i + offset for i, r in enumerate(rows) if f"{key}_steady" in r]
        ys = [r[f"{key}_steady"] / r["forward_steady"] for r in rows if f"{key}_steady" in r]
        ax.bar(xs, ys, width, label=label, color=color)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("time / one forward pass")
    ax.set_title(f"Sampling cost in forward passes ({backend})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default=None, help="tensorflow, jax or torch")
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}"
    )
    parser.add_argument("--num-samples", type=int, default=16)
    parser.add_argument("--wavenet-samples", type=int, default=1)
    parser.add_argument("--wavenet-steps", type=int, default=16000)
    parser.add_argument(
        "--skip-slow-baselines",
        action="store_true",
        help="skip the uncached WaveNet path beyond 2048 steps (it takes hours)",
    )
    parser.add_argument(
        "--skip-baselines",
        action="store_true",
        help="time only one forward pass and the cached path (no uncached, no book loop)",
    )
    parser.add_argument(
        "--torch-loop",
        choices=("eager", "compiled", "both"),
        default="both",
        help="PyTorch: time the eager sampling loop, the torch.compile'd one "
        "(the 'cached' columns), or both side by side (default)",
    )
    parser.add_argument(
        "--warm-inductor-cache",
        action="store_true",
        help="PyTorch: keep the default TORCHINDUCTOR_CACHE_DIR (default: a "
        "new empty one, so that first calls compile from scratch)",
    )
    parser.add_argument("--out", default="runs/benchmarks")
    parser.add_argument(
        "--plot-from",
        nargs="+",
        metavar="JSON",
        help="time nothing: plot the rows of earlier runs' generate_<backend>.json "
        "files (one backend) into --out/generate_<backend>.png",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.plot_from:
        rows = []
        for path in args.plot_from:
            with open(path) as f:
                rows += json.load(f)
        backends = {r["backend"] for r in rows}
        if len(backends) != 1:
            raise SystemExit(f"--plot-from: rows of one backend, got {sorted(backends)}")
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, f"generate_{backends.pop()}.png")
        plot(rows, path, rows[0]["backend"])
        print(path)
        return
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    if not args.warm_inductor_cache:
        # A cold compile cache (as on a user's first run): an empty folder.
        import tempfile

        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor_")
    import keras

    backend = keras.backend.backend()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for name in args.cases.split(","):
        name = name.strip()
        if name not in CASES:
            raise SystemExit(f"unknown case {name!r}; known: {', '.join(CASES)}")
        print(f"[{backend}] {name} ...", flush=True)
        for c in CASES[name](args):
            if args.skip_baselines:
                c.book, c.uncached = None, False
            if backend == "torch":
                c.torch_loops = args.torch_loop == "both"
                compiled = args.torch_loop != "eager"
                os.environ["KERAS_AR_TORCH_COMPILE"] = "1" if compiled else "0"
            row = run_case(c)
            row["backend"] = backend
            print("  ", json.dumps(row), flush=True)
            rows.append(row)
    loop = "compiled"
    if backend == "torch":
        loop = {
            "both": "torch.compile (cached columns), eager (eager columns) and "
            "the default first-call policy (default columns; cold inductor cache "
            "unless --warm-inductor-cache)",
            "compiled": "torch.compile",
            "eager": "eager",
        }[args.torch_loop]
    header = (
        f"Backend {backend} (sampling loop: {loop}), keras {keras.__version__}, "
        f"{os.cpu_count()} CPUs, load average at the end "
        f"{os.getloadavg()[0]:.1f}. Seconds are steady state (first call, with "
        "compilation, in brackets).\n\n"
    )
    table = format_table(rows)
    with open(os.path.join(args.out, f"generate_{backend}.md"), "w") as f:
        f.write(header + table)
    with open(os.path.join(args.out, f"generate_{backend}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    plot(rows, os.path.join(args.out, f"generate_{backend}.png"), backend)
    print(header + table)


if __name__ == "__main__":
    main()
