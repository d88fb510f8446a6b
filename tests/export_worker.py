"""Runs SavedModel signatures in a process where only TensorFlow imports.

Usage: python tests/export_worker.py CALLS.pkl RESULTS.pkl
CALLS is a pickled list of `(saved_model_dir, signature, {input: array})`;
RESULTS gets the list of `{output: array}` (or `{"error": message}`).
keras, keras_ar, jax and torch are made unimportable first, as on a serving
machine that has TensorFlow alone: a SavedModel that needed them would fail
to load here.
"""

import pickle
import sys

for _name in ("keras", "keras_ar", "keras_hub", "tf_keras", "jax", "jaxlib", "torch"):
    # None in sys.modules: `import` raises and importlib.util.find_spec
    # answers None, exactly as for a package that is not installed.
    sys.modules[_name] = None

import tensorflow as tf  # noqa: E402


def main(calls_path, results_path):
    with open(calls_path, "rb") as f:
        calls = pickle.load(f)
    loaded, results = {}, []
    for path, signature, inputs in calls:
        if path not in loaded:
            loaded[path] = tf.saved_model.load(path)
        fn = loaded[path].signatures[signature]
        try:
            outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
            results.append({k: v.numpy() for k, v in outputs.items()})
        except Exception as error:  # reported to the test, which fails
            results.append({"error": f"{type(error).__name__}: {error}"})
    imported = sorted(
        n for n in ("keras", "keras_ar", "jax", "torch") if sys.modules.get(n) is not None
    )
    with open(results_path, "wb") as f:
        pickle.dump({"results": results, "imported": imported}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
