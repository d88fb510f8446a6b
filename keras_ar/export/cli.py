"""`python -m keras_ar.export MODEL.keras OUT_DIR`: a `.keras` file of any
backend to a SavedModel in TF Serving's layout (`OUT_DIR/<version>/`).

Keras fixes its backend when it is first imported, and only the TensorFlow
and JAX backends write SavedModels (torch would need torch_xla). A `.keras`
file holds backend-independent weights, so a model trained on torch exports
from a TensorFlow or JAX process: when this process runs another backend
than the one asked for, the export runs in a child process with
`KERAS_BACKEND` set.
"""

import argparse
import json
import os
import re
import subprocess
import sys

BACKENDS = ("tensorflow", "jax")


def export_keras_file(
    model_path, out_dir, backend="tensorflow", version=None, generate_kwargs=None
):
    """Exports a `.keras` file to `out_dir/<version>/` for TF Serving.

    Callable from any backend (torch included): the export runs in a child
    process on `backend` unless this process already uses it.

    Args:
        model_path: a `.keras` file of a keras_ar model (any backend).
        out_dir: the TF Serving model folder (`--model_base_path`).
        backend: "tensorflow" (plain TF ops in the graph) or "jax" (jax2tf,
            lowered for CPU and CUDA).
        version: int >= 1, the version folder; default: one more than the
            highest version already in `out_dir` (1 if none).
        generate_kwargs: dict of generation arguments fixed at export time
            (see `keras_ar.export.export_saved_model`).
    Returns:
        the path of the version folder written.
    """
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {list(BACKENDS)}, got {backend!r}")
    if not os.path.isfile(model_path):
        raise ValueError(f"`model_path` {model_path!r} is not a file")
    if version is None:
        version = next_version(out_dir)
    elif isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be an int >= 1, got {version!r}")
    target = os.path.join(out_dir, str(version))
    if os.path.exists(target):
        raise ValueError(
            f"{target!r} exists: TF Serving versions are immutable; pick "
            "another `version` (or leave it out for the next one)"
        )
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != backend:
        command = [sys.executable, "-m", "keras_ar.export", model_path, out_dir]
        command += ["--backend", backend, "--version", str(version)]
        if generate_kwargs:
            command += ["--generate-kwargs", json.dumps(generate_kwargs)]
        env = {**os.environ, "KERAS_BACKEND": backend}
        # The child imports this very keras_ar, installed or not.
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH")) if p
        )
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"Exporting {model_path!r} on {backend} failed:\n{result.stderr[-4000:]}"
            )
        return target
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend
    import keras

    import keras_ar  # noqa: F401  (registers the classes for deserialization)

    model = keras.saving.load_model(model_path, compile=False)
    model.export(target, verbose=False, generate_kwargs=generate_kwargs)
    return target


def next_version(out_dir):
    """One more than the highest integer folder name in `out_dir` (or 1)."""
    if not os.path.isdir(out_dir):
        return 1
    versions = [int(n) for n in os.listdir(out_dir) if re.fullmatch(r"[0-9]+", n)]
    return max(versions, default=0) + 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_ar.export",
        description=(
            "Export a keras_ar .keras file (saved on any backend) as a "
            "SavedModel with serve, log_prob and generate signatures, into "
            "OUT_DIR/<version>/ for TF Serving."
        ),
    )
    parser.add_argument("model", help="the .keras file")
    parser.add_argument("out_dir", help="the TF Serving model folder")
    parser.add_argument(
        "--backend", choices=BACKENDS, default="tensorflow",
        help="backend that writes the SavedModel (default: tensorflow)",
    )  # fmt: skip
    parser.add_argument(
        "--version", type=int, default=None,
        help="version folder (default: the next free one, starting at 1)",
    )  # fmt: skip
    parser.add_argument(
        "--generate-kwargs", type=json.loads, default=None,
        help='generation arguments fixed in the graph, as JSON, e.g. \'{"length": 100}\'',
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        target = export_keras_file(
            args.model, args.out_dir, args.backend, args.version, args.generate_kwargs
        )
    except (ValueError, TypeError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    print(target)
    return 0
