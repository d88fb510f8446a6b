"""Forward-pass export to ONNX, for every keras_ar model family.

`model.export(path, format="onnx")` on a keras_ar model comes here. It wraps
Keras' own ONNX exporter (`keras.src.export.onnx`: tf2onnx on TensorFlow,
jax2onnx on JAX, `torch.onnx` on PyTorch) and adds what a generative model
needs:

- the graph's inputs are declared from the model's own spec
  (`model_input_signature(model)`): int32 `inputs` of shape
  `(batch, *event_shape)` (float32 for the real-valued models, whose
  `data_dtype` is float32), and int32 `labels (batch,)` for a
  class-conditional model. Keras would otherwise infer float inputs from
  the first call, or refuse ("The model provided has never called") for a
  model that builds its weights in `__init__` and was never called through
  `build()`;
- on PyTorch, the model's variables are registered with torch first
  (`keras_ar.backend.track_variables`), so the tracer sees every weight;
- on JAX without `jax2onnx` (which Keras needs there), the model goes
  through a `.keras` file to a TensorFlow process and is exported there: the
  weights are the same on every backend (tested), so is the graph.

Only the forward pass is exported: `call()`, i.e. the distribution
parameters (logits, or the PixelCNN++ mixture parameters) of every element
given the elements before it. `log_prob` and `generate` are not ONNX
signatures: the cached sampling loop is a data-dependent while loop over
the model's layers with state, which Keras' ONNX path does not trace, and
the scoring is a few lines on top of the exported logits. Serve those from
a SavedModel.

Command line (any backend's `.keras` file, exported from the backend asked
for):

    python -m keras_ar.onnx MODEL.keras OUT.onnx [MORE.keras MORE.onnx ...] \\
        [--backend tensorflow] [--length N] [--opset N]
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import keras

from keras_ar.backend import track_variables
from keras_ar.backend.scan import unrolled_scans
from keras_ar.export.cli import (
    check_keras_file,
    child_error,
    first_line,
    load_keras_file,
)
from keras_ar.optional import install_hint, require
from keras_ar.validation import check_int

BACKENDS = ("tensorflow", "jax", "torch")


def model_input_signature(model, length=None):
    """The forward pass's inputs, from the model's own spec.

    Args:
        model: a keras_ar model.
        length: fixes a free sequence length (a model built with
            `sequence_length=None`) to this many steps; None keeps it free.

    Returns a one-element list (Keras' `input_signature` format): an int32
    `keras.InputSpec` named "inputs" of shape `(None, *event_shape)`, or
    for a class-conditional model a dict of it and an int32 "labels" spec
    of shape `(None,)`. The batch axis stays `None`: dynamic in the
    exported graph.

    Example:

    >>> from keras_ar.models import MADE
    >>> spec = model_input_signature(MADE(input_dim=5, levels=3, hidden_units=(8,)))
    >>> spec[0].shape, spec[0].dtype
    ((None, 5), 'int32')
    """
    if length is not None:
        check_int("length", length, minimum=1)
    event_shape = tuple(length if d is None else d for d in model.event_shape)
    inputs = keras.InputSpec(
        shape=(None, *event_shape), dtype=model.data_dtype, name="inputs"
    )
    if model.conditional:
        labels = keras.InputSpec(shape=(None,), dtype="int32", name="labels")
        return [{"inputs": inputs, "labels": labels}]
    return [inputs]


def export_onnx(
    model, filepath, verbose=None, input_signature=None, length=None, **kwargs
):
    """Writes the forward pass of `model` to the ONNX file `filepath`.

    Args:
        model: a keras_ar `AutoregressiveModel` with the float32 dtype policy
            (Keras' ONNX exporters need it).
        filepath: the `.onnx` file to write.
        verbose: print where the file went (default: False).
        input_signature: Keras' `input_signature`; default: the model's
            own int32 spec (`keras_ar.onnx.model_input_signature`).
        length: for a model with a free sequence length
            (`sequence_length=None`): the length of the exported graph's
            inputs. Required on JAX and PyTorch, whose exporters trace
            recurrent loops at one length (a free length would give wrong
            outputs silently); optional on TensorFlow, where tf2onnx keeps
            the length dynamic.
        **kwargs: passed to Keras' exporter (e.g. `opset_version`).

    The ONNX graph takes `inputs` (`model.data_dtype`: int32, or float32
    for a real-valued model; `(batch, *event_shape)`) and, for a
    class-conditional model, `labels` (int32, `(batch,)`), and returns what
    `model(inputs)` returns. The batch axis is dynamic on every backend.
    """
    if model.dtype_policy.name != "float32":
        raise ValueError(
            "ONNX export needs the float32 dtype policy (Keras' exporters do), "
            f"got dtype={model.dtype_policy.name!r}. Rebuild the model with "
            "dtype='float32' and load the weights into it."
        )
    filepath = os.fspath(filepath)
    verbose = bool(verbose)
    default_signature = input_signature is None
    backend = keras.backend.backend()
    # JAX needs jax2onnx for Keras' own route; a family may also name
    # backends whose exporter cannot trace it (`_onnx_via_tensorflow_on`).
    # Either way the .keras file is exported by a TensorFlow process.
    through_tensorflow = (
        backend == "jax" and importlib.util.find_spec("jax2onnx") is None
    ) or backend in getattr(model, "_onnx_via_tensorflow_on", ())
    if default_signature:
        exporter = "tensorflow" if through_tensorflow else backend
        if exporter != "tensorflow" and length is None and None in model.event_shape:
            raise ValueError(
                f"{type(model).__name__} has a free sequence length; on the "
                f"{backend} backend the ONNX exporter fixes it at trace time. "
                "Pass `length=` (the input length of the exported graph), or "
                "export from the TensorFlow backend, which keeps it dynamic."
            )
        input_signature = model_input_signature(model, length=length)
    elif length is not None:
        raise ValueError("Pass either `input_signature` or `length`, not both.")
    if through_tensorflow:
        if not default_signature:
            raise ValueError(
                f"{type(model).__name__} on {backend} is exported through a "
                "TensorFlow process, with its own input spec; a custom "
                "`input_signature` needs an exporter on this backend (on JAX: "
                "pip install jax2onnx), or export from TensorFlow."
            )
        if length is not None:
            kwargs["length"] = length
        return _export_in_subprocess(model, filepath, "tensorflow", verbose, **kwargs)
    track_variables(model)
    # Keras' own exporter (not the model's `export`, which comes here). Scans
    # (PixelRNN) are unrolled: tf2onnx cannot convert TensorFlow's loop.
    with unrolled_scans():
        keras.Model.export(
            model,
            filepath,
            format="onnx",
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        )
    return filepath


def _export_in_subprocess(model, filepath, backend, verbose, **kwargs):
    missing = [
        name
        for name in ("tensorflow", "tf2onnx")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise ImportError(
            "ONNX export on the JAX backend needs jax2onnx (pip install "
            "jax2onnx), or tensorflow and tf2onnx to export through a "
            f"TensorFlow process (missing: {', '.join(missing)}; "
            f"{install_hint('onnx', 'tensorflow')})."
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        command = [sys.executable, "-m", "keras_ar.onnx", path, filepath]
        command += ["--backend", backend]
        if kwargs.get("opset_version") is not None:
            command += ["--opset", str(kwargs["opset_version"])]
        if kwargs.get("length") is not None:
            command += ["--length", str(kwargs["length"])]
        unknown = set(kwargs) - {"opset_version", "length"}
        if unknown:
            raise TypeError(
                f"Unsupported ONNX export arguments {sorted(unknown)} when "
                "exporting through a TensorFlow process"
            )
        _run_with_backend(command, backend)
    if verbose:
        print(f"Saved artifact at '{filepath}' (exported by the {backend} backend).")
    return filepath


def _run_with_backend(command, backend):
    env = dict(os.environ, KERAS_BACKEND=backend)
    # keras_ar as imported here, also when it is not installed.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"ONNX export in a {backend} process failed: {child_error(result)}\n"
            + (result.stderr or result.stdout)[-4000:]
        )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_ar.onnx",
        description="Export a keras_ar .keras model's forward pass to ONNX.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="MODEL.keras OUT.onnx",
        help="a .keras file and the .onnx file to write (several pairs may "
        "follow: one process exports them all)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="backend that exports (default: the current one, $KERAS_BACKEND)",
    )
    parser.add_argument("--opset", type=int, help="ONNX opset (default: Keras')")
    parser.add_argument(
        "--length",
        type=int,
        help="input length, for a model with a free sequence length "
        "(required on jax and torch)",
    )
    args = parser.parse_args(argv)
    if len(args.files) % 2:
        parser.exit(2, "error: give pairs of MODEL.keras OUT.onnx\n")
    try:
        return _main(args)
    except (ValueError, TypeError, RuntimeError, ImportError, OSError) as error:
        parser.exit(2, f"error: {first_line(error)}\n")


def _require_exporter(backend):
    """Raises an ImportError naming the extra when `backend`'s ONNX exporter
    (or the TensorFlow process a JAX export without jax2onnx goes through)
    is not installed."""
    modules = {"onnx": "onnx"}
    if backend == "tensorflow" or (
        backend == "jax" and importlib.util.find_spec("jax2onnx") is None
    ):
        modules.update(tensorflow="tensorflow", tf2onnx="onnx")
    require(modules, f"ONNX export on the {backend} backend")


def _main(args):
    pairs = list(zip(args.files[::2], args.files[1::2]))
    for model_path, _ in pairs:
        check_keras_file(model_path, argument="MODEL.keras")
    backend = args.backend or keras.backend.backend()
    _require_exporter(backend)
    if args.backend is not None and args.backend != keras.backend.backend():
        # The backend is fixed once Keras is imported: start one that has it.
        command = [sys.executable, "-m", "keras_ar.onnx", *args.files]
        if args.opset is not None:
            command += ["--opset", str(args.opset)]
        if args.length is not None:
            command += ["--length", str(args.length)]
        _run_with_backend(command, args.backend)
        for _, output in pairs:
            print(f"Saved artifact at '{output}' (exported by {args.backend}).")
        return 0
    kwargs = {} if args.opset is None else {"opset_version": args.opset}
    for model_path, output in pairs:
        model = load_keras_file(model_path)
        export_onnx(model, output, verbose=False, length=args.length, **kwargs)
        print(f"Saved artifact at '{output}'.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
