"""Sampling from an exported SavedModel on TensorFlow, side by side in one run.

A SavedModel's `generate` signature runs the cached generation loop as a
TensorFlow graph without XLA (what TF Serving or `tf.saved_model.load` run
unless told otherwise). For each case and batch size this times, one after
the other in one process (seconds, best of `--repeats` after a first call):

- `model.generate(...)` in process: the XLA-compiled loop (the reference);
- the served `generate` as exported (caches written in place,
  `keras_ar.backend.slicing.tf_in_place_loop`);
- the served `generate` of the same model exported with the copying loop
  (`slice_update` copies each cache at each step), for comparison.

    KERAS_BACKEND=tensorflow python benchmarks/serving.py --cases pixelcnn28,pixelcnnpp \
        --batch-sizes 16,64 --out runs/bench_serving

Writes `serving.json` and `serving.md` under `--out`. These are
measurements, not tests: nothing here asserts a figure.
"""

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def build(case):
    from keras_ar.models import PixelCNN, PixelCNNPlusPlus

    if case == "pixelcnn28":
        return "PixelCNN 28x28, 256 levels, 64 filters", PixelCNN(
            (28, 28, 1), levels=256, filters=64
        )
    if case == "pixelcnnpp":
        return "PixelCNN++ 32x32 (book's mixture settings)", PixelCNNPlusPlus(
            (32, 32, 1), levels=256, num_mixtures=5, num_filters=32,
            num_resnet=1, num_hierarchies=2, dropout_rate=0.3,
        )  # fmt: skip
    raise SystemExit(f"error: unknown case {case!r}; known: pixelcnn28, pixelcnnpp")


def best_time(fn, repeats):
    fn()  # the first call traces or compiles
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def export(model, path, in_place):
    from keras_ar.backend import slicing

    original = slicing._tf_in_place
    if not in_place:
        slicing._tf_in_place = lambda: False  # the copying loop, for comparison
    try:
        model.export(path, verbose=False)
    finally:
        slicing._tf_in_place = original


def run_case(case, batch_sizes, repeats, folder):
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    label, model = build(case)
    served = {}
    for in_place in (True, False):
        path = os.path.join(folder, f"{case}_{'in_place' if in_place else 'copies'}")
        export(model, path, in_place)
        served[in_place] = tf.saved_model.load(path).signatures["generate"]
    rows = []
    for batch in batch_sizes:
        inputs = {
            "seed": tf.constant(np.arange(batch, dtype="int32")),
            "temperature": tf.constant(1.0),
        }
        row = {"case": label, "batch": batch}
        row["in_process_xla_s"] = best_time(
            lambda n=batch: model.generate(num_samples=n, seed=0), repeats
        )
        for in_place, key in ((True, "served_in_place_s"), (False, "served_copies_s")):
            signature = served[in_place]
            row[key] = best_time(
                lambda fn=signature, kw=inputs: fn(**kw)["samples"].numpy(), repeats
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def markdown(rows):
    lines = [
        "| case | batch | in-process `generate` (XLA) s | served, in place s | "
        "served, copying s | copying / in place | in place / in-process |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['batch']} | {r['in_process_xla_s']:.3g} | "
            f"{r['served_in_place_s']:.3g} | {r['served_copies_s']:.3g} | "
            f"{r['served_copies_s'] / r['served_in_place_s']:.1f}x | "
            f"{r['served_in_place_s'] / r['in_process_xla_s']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="pixelcnn28,pixelcnnpp")
    parser.add_argument("--batch-sizes", default="16,64")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=os.path.join("runs", "bench_serving"))
    args = parser.parse_args(argv)
    try:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    except ValueError:
        parser.error(f"--batch-sizes takes comma-separated ints, got {args.batch_sizes!r}")
    if not batch_sizes or min(batch_sizes) < 1 or args.repeats < 1:
        parser.error("--batch-sizes and --repeats must be positive")
    import keras

    if keras.backend.backend() != "tensorflow":
        parser.error("run with KERAS_BACKEND=tensorflow (the SavedModel's own backend)")
    os.makedirs(args.out, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for case in [c for c in args.cases.split(",") if c]:
            rows += run_case(case, batch_sizes, args.repeats, folder)
    table = markdown(rows)
    with open(os.path.join(args.out, "serving.json"), "w") as f:
        json.dump({"keras": keras.__version__, "rows": rows}, f, indent=2)
    with open(os.path.join(args.out, "serving.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
