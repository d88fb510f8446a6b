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
import zipfile

from keras_ar.optional import require

BACKENDS = ("tensorflow", "jax")


def check_keras_file(path, argument="model_path"):
    """Raises a ValueError unless `path` is a readable `.keras` archive:
    a missing file, a file that is not a zip (corrupt, truncated) and a zip
    without Keras' `config.json` are told apart."""
    if not os.path.isfile(path):
        raise ValueError(f"`{argument}` {path!r} is not a file")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a valid .keras file: it is not a zip archive "
            "(corrupt or truncated?)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path!r} is a corrupt .keras file ({error})") from None
    if "config.json" not in names:
        raise ValueError(
            f"{path!r} is not a valid .keras file: its zip archive has no "
            "config.json (corrupt, or not saved by keras)"
        )


def load_keras_file(path):
    """`keras.saving.load_model(path, compile=False)` with keras_ar's classes
    registered; a file that does not load raises a ValueError naming it."""
    check_keras_file(path)
    import keras

    import keras_ar  # noqa: F401  (registers the classes for deserialization)

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"{path!r} could not be loaded as a keras_ar model "
            f"({type(error).__name__}: {first})"
        ) from error


def require_export_modules(backend):
    """Raises an ImportError naming the extra to install when `backend`
    cannot write a SavedModel here (TensorFlow is always needed: a
    SavedModel is TensorFlow's format, and JAX's export goes through
    jax2tf)."""
    modules = {"tensorflow": "tensorflow"}
    if backend == "jax":
        modules["jax"] = "jax"
    require(modules, f"SavedModel export on the {backend} backend")


def child_error(result):
    """The last line of a failed child process's stderr that says what went
    wrong (its `error:` line, else the exception's line)."""
    lines = [line.strip() for line in (result.stderr or "").splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if line.startswith("error: "):
            return line[len("error: ") :]
    return lines[-1] if lines else f"exit status {result.returncode}"


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
    check_keras_file(model_path)
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
    require_export_modules(backend)
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
                f"exporting {model_path!r} on {backend} failed: "
                f"{child_error(result)}\n{result.stderr[-4000:]}"
            )
        return target
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend
    model = load_keras_file(model_path)
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
    except (ValueError, TypeError, RuntimeError, ImportError, OSError) as error:
        parser.exit(2, f"error: {first_line(error)}\n")
    print(target)
    return 0


def first_line(error):
    """The first line of an error's message: a command-line mistake is
    reported on one `error:` line (a failed child's output follows it in
    the exception, not on the terminal)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
