"""Training-step time per family and backend, side by side in one run.

Each backend runs in its own process (Keras fixes the backend at import);
every process times the same cases on the same batch shape, and the table
puts them side by side:

- keras_ar families (`--cases`): one optimizer step on a batch, Keras'
  `train_on_batch` (what `fit` runs per step), default `compile()`; on
  PyTorch also with `compile(jit_compile=True)` (the step under
  `torch.compile`);
- "plain Keras unmasked CNN": a `keras.Sequential` of plain `Conv2D` layers
  of the PixelCNN's shape (no masks, no keras_ar), the same loss: what any
  Keras model of this size costs on the backend;
- "plain torch.nn PixelCNN" (PyTorch process only): the PixelCNN written
  directly in `torch.nn` (masked kernels as `weight * mask`, Adam, the
  same loss), eager and `torch.compile`d: what the backend itself can do.

Reported: milliseconds per step, steady state (median of `--steps` steps
after `--warmup` steps, compilation included in the warm-up) and the first
step (compilation included). These are measurements, not tests.

    python benchmarks/train.py --backends jax,torch,tensorflow --out runs/train
    python benchmarks/train.py --backends torch --cases pixelcnn --batch-size 32
    python benchmarks/train.py --cases pixelcnn,gated,lstm --no-torch-jit
"""

import argparse
import json
import os
import subprocess
import sys
import time

CASES = ("pixelcnn", "gated", "pixelcnnpp", "pixelsnail", "wavenet", "lstm")


def build_case(name, args):
    """`(label, model, x)`: a keras_ar model and one batch."""
    import numpy as np

    rng = np.random.default_rng(0)
    n, size, levels = args.batch_size, args.image_size, args.levels
    image = rng.integers(0, levels, (n, size, size, 1)).astype("int32")
    if name == "pixelcnn":
        from keras_ar.models import PixelCNN

        model = PixelCNN(
            (size, size, 1), levels=levels, filters=args.filters,
            num_residual_blocks=args.residual_blocks,
        )  # fmt: skip
        return f"PixelCNN {size}x{size}, {levels} levels, {args.filters} filters", model, image
    if name == "gated":
        from keras_ar.models import GatedPixelCNN

        model = GatedPixelCNN((size, size, 1), levels=levels, filters=args.filters // 2)
        return f"GatedPixelCNN {size}x{size}", model, image
    if name == "pixelcnnpp":
        from keras_ar.models import PixelCNNPlusPlus

        model = PixelCNNPlusPlus(
            (size, size, 1), levels=levels, num_mixtures=5, num_filters=32,
            num_resnet=1, num_hierarchies=2, dropout_rate=0.0,
        )  # fmt: skip
        return f"PixelCNN++ {size}x{size}, 32 filters", model, image
    if name == "pixelsnail":
        from keras_ar.models import PixelSNAIL

        model = PixelSNAIL(
            (size, size, 1), levels=levels, num_filters=32, num_blocks=1,
            num_resnet=1, value_dim=16, key_dim=8, dropout_rate=0.0,
        )  # fmt: skip
        return f"PixelSNAIL {size}x{size}, 32 filters", model, image
    if name == "wavenet":
        from keras_ar.models import WaveNet

        model = WaveNet(
            levels=256, sequence_length=1024, residual_channels=32, skip_channels=32
        )
        x = rng.integers(0, 256, (n, 1024)).astype("int32")
        return "WaveNet 1024 samples, 32 channels", model, x
    if name == "lstm":
        from keras_ar.models import RecurrentLM

        model = RecurrentLM(vocab_size=10000, sequence_length=200, embedding_dim=100, units=128)
        x = rng.integers(1, 10000, (n, 200)).astype("int32")
        return "RecurrentLM 10000 words, 200 tokens", model, x
    raise SystemExit(f"unknown case {name!r}; known: {', '.join(CASES)}")


def plain_keras_cnn(args):
    """The PixelCNN's layer shapes as plain Keras Conv2D (no masks)."""
    import keras

    size, f, levels = args.image_size, args.filters, args.levels
    layers = [keras.Input((size, size, 1)), keras.layers.Conv2D(f, 7, padding="same", activation="relu")]
    for _ in range(args.residual_blocks):
        layers += [
            keras.layers.Conv2D(f // 2, 1, activation="relu"),
            keras.layers.Conv2D(f // 2, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(f, 1, activation="relu"),
        ]  # (no residual sum: a Sequential; the same convolutions)
    layers += [
        keras.layers.Conv2D(f, 1, activation="relu"),
        keras.layers.Conv2D(f, 1, activation="relu"),
        keras.layers.Conv2D(levels, 1),
    ]
    model = keras.Sequential(layers)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def time_steps(step, args):
    """`(first step s, median steady step s)`; `step()` returns something
    whose conversion to float waits for the device."""
    import numpy as np

    begin = time.perf_counter()
    float(np.asarray(step()).ravel()[0])
    first = time.perf_counter() - begin
    for _ in range(args.warmup - 1):
        float(np.asarray(step()).ravel()[0])
    times = []
    for _ in range(args.steps):
        begin = time.perf_counter()
        float(np.asarray(step()).ravel()[0])
        times.append(time.perf_counter() - begin)
    return first, float(np.median(times))


def torch_nn_pixelcnn(args):
    """The PixelCNN in plain torch.nn: `(model, loss_fn)`."""
    import numpy as np
    import torch
    from torch import nn

    def mask(kernel, kind):
        m = np.ones((kernel, kernel), "float32")
        m[kernel // 2, kernel // 2 + (kind == "B") :] = 0
        m[kernel // 2 + 1 :] = 0
        return torch.tensor(m)

    class MaskedConv(nn.Conv2d):
        def __init__(self, cin, cout, kernel, kind):
            super().__init__(cin, cout, kernel, padding=kernel // 2)
            self.register_buffer("mask", mask(kernel, kind))

        def forward(self, x):
            return nn.functional.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    class Block(nn.Module):
        def __init__(self, f):
            super().__init__()
            self.reduce = MaskedConv(f, f // 2, 1, "B")
            self.masked = MaskedConv(f // 2, f // 2, 3, "B")
            self.expand = MaskedConv(f // 2, f, 1, "B")

        def forward(self, x):
            h = torch.relu(self.reduce(x))
            h = torch.relu(self.masked(h))
            return x + torch.relu(self.expand(h))

    class PixelCNN(nn.Module):
        def __init__(self, f, levels, blocks):
            super().__init__()
            self.levels = levels
            self.stem = MaskedConv(1, f, 7, "A")
            self.blocks = nn.Sequential(*[Block(f) for _ in range(blocks)])
            self.head = nn.Sequential(
                MaskedConv(f, f, 1, "B"), nn.ReLU(), MaskedConv(f, f, 1, "B"), nn.ReLU()
            )
            self.logits = MaskedConv(f, levels, 1, "B")

        def forward(self, x):
            h = x.float() * (2.0 / (self.levels - 1)) - 1.0
            h = torch.relu(self.stem(h))
            return self.logits(self.head(self.blocks(h)))

    return PixelCNN(args.filters, args.levels, args.residual_blocks)


def run_backend(args):
    """Times every case on this process's backend; prints JSON rows."""
    import keras
    import numpy as np

    backend = keras.backend.backend()
    rows = []

    def add(label, kind, first, steady):
        row = {"backend": backend, "case": label, "kind": kind,
               "first_ms": first * 1e3, "steady_ms": steady * 1e3}  # fmt: skip
        print(json.dumps(row), flush=True)
        rows.append(row)

    for name in args.cases.split(","):
        settings = [("default compile()", {})]
        if backend == "torch" and not args.no_torch_jit:
            settings.append(("compile(jit_compile=True)", {"jit_compile": True}))
        for kind, kwargs in settings:
            label, model, x = build_case(name.strip(), args)
            model.compile(optimizer="adam", **kwargs)
            first, steady = time_steps(lambda m=model, x=x: m.train_on_batch(x), args)
            add(label, "keras_ar, " + kind, first, steady)

    rng = np.random.default_rng(0)
    size = args.image_size
    image = rng.integers(0, args.levels, (args.batch_size, size, size, 1))
    if "pixelcnn" in args.cases.split(","):
        label = f"PixelCNN {size}x{size}, {args.levels} levels, {args.filters} filters"
        settings = [("default compile()", {})]
        if backend == "torch" and not args.no_torch_jit:
            settings.append(("compile(jit_compile=True)", {"jit_compile": True}))
        for kind, kwargs in settings:
            model = plain_keras_cnn(args)
            if kwargs:
                model.compile(
                    optimizer="adam",
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    **kwargs,
                )
            x = (image.astype("float32") / (args.levels - 1)) * 2 - 1
            first, steady = time_steps(
                lambda m=model, x=x: m.train_on_batch(x, image[..., 0]), args
            )
            add(label, "plain Keras unmasked CNN, " + kind, first, steady)
        if backend == "torch":
            import torch

            x = torch.tensor(image).permute(0, 3, 1, 2).contiguous()
            target = torch.tensor(image[..., 0]).long()
            for kind in ("eager",) if args.no_torch_jit else ("eager", "torch.compile"):
                net = torch_nn_pixelcnn(args)
                opt = torch.optim.Adam(net.parameters(), lr=1e-3)

                def train_step(net=net, opt=opt):
                    opt.zero_grad(set_to_none=True)
                    loss = torch.nn.functional.cross_entropy(net(x), target)
                    loss.backward()
                    opt.step()
                    return loss.detach()

                if kind == "torch.compile":
                    train_step = torch.compile(train_step)
                first, steady = time_steps(lambda f=train_step: f().numpy(), args)
                add(label, f"plain torch.nn PixelCNN, {kind}", first, steady)
    return rows


def format_table(rows, backends):
    cells = {}
    for r in rows:
        cells[(r["case"], r["kind"], r["backend"])] = r
    keys = []
    for r in rows:
        if (r["case"], r["kind"]) not in keys:
            keys.append((r["case"], r["kind"]))
    head = "| case | model / setting | " + " | ".join(
        f"{b} ms/step (first)" for b in backends
    )
    lines = [head + " |", "|---|---|" + "---|" * len(backends)]
    for case, kind in keys:
        values = []
        for b in backends:
            r = cells.get((case, kind, b))
            values.append("-" if r is None else f"{r['steady_ms']:.1f} ({r['first_ms']:.0f})")
        lines.append(f"| {case} | {kind} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="jax,torch,tensorflow")
    parser.add_argument("--cases", default="pixelcnn", help=f"from {', '.join(CASES)}")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--filters", type=int, default=128)
    parser.add_argument("--residual-blocks", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--no-torch-jit", action="store_true",
        help="skip PyTorch's compiled rows (jit_compile=True, torch.compile): minutes each",
    )  # fmt: skip
    parser.add_argument("--out", default="runs/train")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        run_backend(args)
        return
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows = []
    for backend in backends:
        print(f"[{backend}] ...", flush=True)
        env = dict(os.environ, KERAS_BACKEND=backend)
        worker = subprocess.Popen(
            [sys.executable, __file__, "--worker", *argv],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        for line in worker.stdout:  # Each row as soon as it is timed.
            if line.startswith("{"):
                rows.append(json.loads(line))
                print("  ", line.strip(), flush=True)
        if worker.wait():
            print(f"[{backend}] exited with {worker.returncode}", file=sys.stderr)
    from importlib.metadata import version

    header = (
        f"Training step, batch {args.batch_size}; keras {version('keras')}, "
        f"{os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.1f}. "
        "Milliseconds per step, steady state (first step, compilation "
        "included, in brackets).\n\n"
    )
    table = format_table(rows, backends)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "train.md"), "w") as f:
        f.write(header + table)
    with open(os.path.join(args.out, "train.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(header + table)


if __name__ == "__main__":
    main()
