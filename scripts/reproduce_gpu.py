"""Runs the chapter-5 recipes at the book's settings on one GPU (JAX, or
PyTorch with `--backend torch`) and writes their figures into
docs/results.md. Called by scripts/reproduce_gpu.sh (see there, and README
"Reproducing the book on a GPU").

A run without a GPU (`--allow-cpu`, a check of the script) writes its
results into `OUT/results.md`, never into the tracked docs/results.md
(unless `--results` names it). A recipe that fails is reported as failed.

The recipes, their epochs and their training-time budgets are the RECIPES
list below: a new recipe is one more line.
"""

import argparse
import glob
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, script, epochs, training budget in seconds, data kind, book epochs)
# Epochs are sized so that all four finish within 10 minutes on one H100:
# ESTIMATES from the models' sizes (no GPU was available to measure them);
# `--max-train-seconds` stops a recipe's training at its budget whatever the
# per-epoch time turns out to be, and the results say how many epochs ran.
RECIPES = [
    ("pixelcnn", "recipes/pixelcnn_fashion_mnist.py", 60, 130, "fashion", 150),
    ("gated_pixelcnn", "recipes/gated_pixelcnn_fashion_mnist.py", 30, 130, "fashion", 150),
    ("pixelcnn_mixture", "recipes/pixelcnn_mixture_fashion_mnist.py", 10, 100, "fashion", 10),
    ("lstm_recipes", "recipes/lstm_recipes.py", 25, 80, "epicurious", 25),
]  # fmt: skip

FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
BACKENDS = ("jax", "torch")
BEGIN = "<!-- reproduce_gpu:begin -->"
END = "<!-- reproduce_gpu:end -->"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="scripts/reproduce_gpu.sh",
        description="The chapter-5 recipes at the book's settings on one GPU "
        "(JAX or PyTorch backend); figures into docs/results.md.",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="jax",
        help="Keras backend of the recipes (default: jax)",
    )
    parser.add_argument(
        "--wheels",
        help="folder of wheels (keras and its pure-Python dependencies, "
        "matplotlib...) installed with pip --no-index --no-deps into "
        "OUT/site; wheels of packages this Python already has are skipped",
    )
    parser.add_argument(
        "--data", required=True, help="folder with the four Fashion-MNIST IDX files"
    )
    parser.add_argument(
        "--epicurious",
        help="Epicurious JSON for the LSTM recipe (default: the recipe's own, "
        "../shared/data/epicurious_sample_158.json next to the repository)",
    )
    parser.add_argument("--out", default="runs/gpu", help="folder of the run folders")
    parser.add_argument(
        "--epochs", type=int, help="epochs for every recipe (e.g. 1 for a CPU check)"
    )
    parser.add_argument(
        "--mode",
        choices=("full", "quick", "tiny"),
        default="full",
        help="the recipes' settings: full (the book's, the default); tiny for "
        "a fast check of this script",
    )
    parser.add_argument(
        "--only", nargs="+", help="run only these recipes (names of RECIPES)"
    )
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="run even when JAX sees no GPU (a CPU check of the script)",
    )
    parser.add_argument(
        "--results",
        help="the Markdown file whose marked section is rewritten (default: "
        "docs/results.md on a GPU, OUT/results.md otherwise)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the arguments and print what would run, without running",
    )
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    names = [r[0] for r in RECIPES]
    for name in args.only or ():
        if name not in names:
            parser.error(f"--only: unknown recipe {name!r}; known: {names}")
    if not os.path.isdir(args.data):
        parser.error(f"--data {args.data}: no such folder")
    missing = [f for f in FASHION_FILES if not _has_idx(args.data, f)]
    if missing:
        parser.error(
            f"--data {args.data}: missing Fashion-MNIST files {missing} (plain or .gz)"
        )
    if args.wheels is not None and not glob.glob(os.path.join(args.wheels, "*.whl")):
        parser.error(f"--wheels {args.wheels}: no .whl files there")
    return args


def _has_idx(folder, stem):
    return any(os.path.exists(os.path.join(folder, stem + e)) for e in ("", ".gz"))


def wheel_name(path):
    """The normalized distribution name of a wheel file."""
    return re.sub(r"[-_.]+", "-", os.path.basename(path).split("-")[0]).lower()


def wheels_to_install(folder):
    """`(install, skipped)`: the wheels in `folder` whose package this Python
    lacks, and those it already has (kept: e.g. the machine's CUDA-built
    jax and numpy must not be shadowed)."""
    install, skipped = [], []
    for path in sorted(glob.glob(os.path.join(folder, "*.whl"))):
        try:
            importlib.metadata.version(wheel_name(path))
            skipped.append(path)
        except importlib.metadata.PackageNotFoundError:
            install.append(path)
    return install, skipped


def recipe_commands(args, python=sys.executable):
    """`[(name, command, epochs, budget, book_epochs, out)]` for the run."""
    runs = []
    for name, script, epochs, budget, data, book_epochs in RECIPES:
        if args.only and name not in args.only:
            continue
        epochs = args.epochs or epochs
        out = os.path.join(args.out, name)
        command = [python, os.path.join(REPO, script), f"--{args.mode}"]
        command += ["--out", out, "--epochs", str(epochs), "--verbose", "2"]
        command += ["--backend", args.backend, "--max-train-seconds", str(budget)]
        if data == "fashion":
            command += ["--data", args.data]
        elif args.epicurious:
            command += ["--data", args.epicurious]
        runs.append((name, command, epochs, budget, book_epochs, out))
    return runs


_DEVICE_CODE = {
    "jax": "import jax; d = jax.devices()[0]; print(d.platform, d.device_kind)",
    "torch": "import torch; print('gpu ' + torch.cuda.get_device_name(0) "
    "if torch.cuda.is_available() else 'cpu')",
}


def device_description(env, backend="jax"):
    """The device the backend computes on: "gpu <name>" or "cpu"."""
    result = subprocess.run(
        [sys.executable, "-c", _DEVICE_CODE[backend]],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{backend} does not start:\n{result.stderr[-2000:]}")
    words = result.stdout.strip().splitlines()[-1].split(" ", 1)
    # JAX names a CPU "cpu cpu": platform and kind say the same.
    if len(words) == 2 and words[0].lower() == words[1].lower():
        words = words[:1]
    return " ".join(words)


def results_path(args, device):
    """Where the results go: `--results`, else docs/results.md for a GPU
    run and OUT/results.md for a CPU check (the tracked file keeps GPU
    figures only)."""
    if args.results:
        return args.results
    if device.startswith("gpu"):
        return os.path.join(REPO, "docs", "results.md")
    return os.path.join(args.out, "results.md")


def main(argv=None):
    args = parse_args(argv)
    env = dict(os.environ, KERAS_BACKEND=args.backend)
    site = os.path.join(os.path.abspath(args.out), "site")
    paths = [REPO]
    if args.wheels:
        install, skipped = wheels_to_install(args.wheels)
        print(f"wheels: {len(install)} to install into {site}, {len(skipped)} "
              "already installed here (kept):")  # fmt: skip
        for path in skipped:
            print(f"  keep  {os.path.basename(path)}")
        for path in install:
            print(f"  add   {os.path.basename(path)}")
        pip = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps"]
        pip += ["--target", site, "--upgrade", *install]
        print("$ " + " ".join(pip[:8]) + " ...")
        if install and not args.dry_run:
            subprocess.run(pip, check=True)
        paths.append(site)
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    runs = recipe_commands(args)
    for name, command, epochs, budget, _, _ in runs:
        print(f"{name}: {epochs} epochs, training budget {budget} s")
        print("$ " + " ".join(command))
    if args.dry_run:
        return 0
    device = device_description(env, args.backend)
    print(f"device: {device}")
    if not device.startswith("gpu") and not args.allow_cpu:
        raise SystemExit(
            f"{args.backend} sees no GPU ({device}); pass --allow-cpu for a CPU check."
        )
    args.results = results_path(args, device)
    results = []
    for name, command, epochs, budget, book_epochs, out in runs:
        start = time.perf_counter()
        status = subprocess.run(command, env=env).returncode
        wall = time.perf_counter() - start
        results.append(_result(name, out, status, wall, epochs, budget, book_epochs))
        print(f"{name}: exit {status}, {wall:.0f} s")
    write_results(args, device, results)
    return 0 if all(r["status"] == 0 for r in results) else 1


def _result(name, out, status, wall, epochs, budget, book_epochs):
    result = dict(name=name, out=out, status=status, wall=wall, epochs=epochs)
    result.update(budget=budget, book_epochs=book_epochs, metrics=None)
    path = os.path.join(out, "metrics.json")
    if status == 0 and os.path.exists(path):
        with open(path) as f:
            result["metrics"] = json.load(f)
    return result


def _figure(metrics):
    if metrics is None:
        return "failed (see the log)"
    if "test_bits_per_dim" in metrics:
        return f"test NLL {metrics['test_bits_per_dim']:.4f} bits/dim"
    return f"validation perplexity {metrics['val_perplexity']:.2f}"


def write_results(args, device, results):
    """Rewrites the marked section of `args.results` (appended if absent);
    copies the sample grids next to it."""
    args.results = args.results or results_path(args, device)
    docs = os.path.dirname(os.path.abspath(args.results))
    figures = os.path.join(docs, "gpu")
    os.makedirs(figures, exist_ok=True)
    lines = [
        BEGIN,
        "## Recipes on one GPU (`scripts/reproduce_gpu.sh`)",
        "",
        f"Device: {device}, {args.backend} backend, mode `{args.mode}`, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}. Command: "
        f"`scripts/reproduce_gpu.sh {' '.join(_shown_args(args))}`.",
        "",
        "| recipe | epochs run (book) | figure | time per epoch | wall time | outputs |",
        "|---|---|---|---|---|---|",
    ]
    samples = []
    for r in results:
        m = r["metrics"] or {}
        run = m.get("epochs_run", 0)
        if r["status"] != 0 or not m:
            note = f"failed (exit status {r['status']})"
        else:
            note = f"{run} of {r['epochs']}" if run != r["epochs"] else str(run)
            if run < r["epochs"]:
                note += f", stopped at the {r['budget']} s budget"
        per_epoch = m.get("mean_time_per_epoch_s")
        per_epoch = f"{per_epoch:.1f} s" if per_epoch else "-"
        lines.append(
            f"| {r['name']} | {note} ({r['book_epochs']}) | {_figure(r['metrics'])} "
            f"| {per_epoch} | {r['wall']:.0f} s | `{_shown_out(args, r)}` |"
        )
        png = os.path.join(r["out"], "samples.png")
        if os.path.exists(png):
            target = os.path.join(figures, f"{r['name']}_samples.png")
            shutil.copyfile(png, target)
            samples.append(f"![{r['name']} samples](gpu/{r['name']}_samples.png)")
        text = os.path.join(r["out"], "samples.txt")
        if os.path.exists(text):
            with open(text) as f:
                excerpt = f.read().strip().splitlines()[:6]
            samples.append("```text\n" + "\n".join(excerpt) + "\n```")
    lines += ["", "Samples:", "", *samples, END]
    section = "\n".join(lines) + "\n"
    text = ""
    if os.path.exists(args.results):
        with open(args.results) as f:
            text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(args.results, "w") as f:
        f.write(text)
    print(f"wrote {args.results}")


def _shown_out(args, result):
    """The run folder as `OUT/<recipe>`, or relative to --out as given when
    that is relative: no absolute paths of this machine in the results."""
    base = args.out if not os.path.isabs(args.out) else "OUT"
    return os.path.join(base, os.path.basename(os.path.normpath(result["out"])))


def _shown_args(args):
    shown = ["--wheels DIR"] if args.wheels else []
    if args.backend != "jax":
        shown.append(f"--backend {args.backend}")
    shown.append("--data DIR")
    if args.epochs:
        shown.append(f"--epochs {args.epochs}")
    if args.mode != "full":
        shown.append(f"--mode {args.mode}")
    if args.allow_cpu:
        shown.append("--allow-cpu")
    return shown


if __name__ == "__main__":
    sys.exit(main())
