"""Recipe outputs: metrics.json, the printed list of files, the run folder."""

import json
import math
import os
import time


def _clean(value):
    """JSON-safe copy: NumPy scalars to Python, non-finite floats to None."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def history_dict(history):
    """`History.history` as plain lists of floats, one entry per epoch."""
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def write_metrics(out_dir, recipe, args, settings, history, timer, wall_start, **extra):
    """Writes `metrics.json`; returns its path and the dict written.

    Keys: recipe, mode, backend, keras_version, args, settings, history
    (per-epoch losses and metrics), epochs_run, time_per_epoch_s,
    mean_time_per_epoch_s, wall_time_s, process_cpu_time_s, plus `extra` (the evaluation figures,
    e.g. test_bits_per_dim or val_perplexity).
    """
    import keras

    durations = list(timer.durations)
    metrics = {
        "recipe": recipe,
        "mode": args.mode,
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "args": vars(args),
        "settings": settings,
        "history": history_dict(history),
        "epochs_run": len(durations),
        "time_per_epoch_s": durations,
        "mean_time_per_epoch_s": sum(durations) / len(durations) if durations else None,
        **extra,
        "wall_time_s": time.perf_counter() - wall_start,
        # CPU seconds of this process (all threads): on a shared, busy
        # machine a steadier figure than the wall time.
        "process_cpu_time_s": time.process_time(),
    }
    metrics = _clean(metrics)
    path = os.path.join(out_dir, "metrics.json")
    with open(path, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=False)
        f.write("\n")
    return path, metrics


def print_outputs(paths, last=None):
    """Prints every path written, `last` (e.g. samples.png) last of all."""
    print("\nWrote:")
    ordered = [p for p in paths if p != last] + ([last] if last else [])
    for path in ordered:
        print(f"  {path}")
    if last:
        print(f"\nSamples: {last}")


def detection_table(sets, methods, labels, nll_key, first_column, unit):
    """Markdown lines of an anomaly-detection table: one row per set of
    `sets` (`{name: {nll_key: mean NLL, method: detection_metrics(...)}}`),
    its mean NLL in `unit`, the AUROC of each method, then the FPR at 95%
    TPR of each in the same order."""
    lines = [
        f"| {first_column} | mean NLL ({unit}) | "
        + " | ".join(f"AUROC {labels[m]}" for m in methods)
        + " | FPR@95%TPR (same order) |",
        "|---|---|" + "---|" * len(methods) + "---|",
    ]
    for name, row in sets.items():
        fprs = " / ".join(f"{row[m]['fpr_at_95_tpr']:.3f}" for m in methods)
        lines.append(
            f"| {name} | {row[nll_key]:.3f} | "
            + " | ".join(f"{row[m]['auroc']:.3f}" for m in methods)
            + f" | {fprs} |"
        )
    return lines


def write_results(run, results, table):
    """Writes a results recipe's results.md (`table`, markdown) and
    results.json (`results` with the run's recipe, mode, backend, Keras
    version, arguments, settings and times); returns `(json_path, md_path,
    payload)`."""
    import keras

    md_path = run.path("results.md")
    with open(md_path, "w") as f:
        f.write(table + "\n")
    payload = _clean(
        {
            "recipe": run.recipe,
            "mode": run.args.mode,
            "backend": keras.backend.backend(),
            "keras_version": keras.__version__,
            "args": vars(run.args),
            "settings": run.settings,
            **results,
            "wall_time_s": time.perf_counter() - run.wall_start,
            "process_cpu_time_s": time.process_time(),
        }
    )
    json_path = run.path("results.json")
    with open(json_path, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    return json_path, md_path, payload


def ensure_out_dir(path):
    os.makedirs(path, exist_ok=True)
    return path
