"""Optional dependencies, imported on first use with a clear error.

`import keras_ar` works with keras, numpy and one backend alone; the parts
that need more (keras-hub for the Transformer text models and keras-hub
samplers) import it through `import_keras_hub`, which says which extra to
install instead of failing with a bare `ModuleNotFoundError`.
"""

import importlib


def import_keras_hub(feature):
    """Returns the `keras_hub` module, or raises an ImportError naming the
    `text` extra and `feature` (what needed it).

    Example:

    >>> keras_hub = import_keras_hub("TransformerLM")  # doctest: +SKIP
    """
    try:
        return importlib.import_module("keras_hub")
    except ImportError as error:
        raise ImportError(
            f"{feature} needs keras-hub, which is not installed. Install the "
            "`text` extra: pip install 'keras-ar[text]' (keras-hub needs "
            "tensorflow-text, hence the full `tensorflow` wheel, not "
            "tensorflow-cpu)."
        ) from error


def import_extra(module, extra, feature):
    """Returns `module`, or raises an ImportError naming the extra that
    installs it and `feature` (what needed it).

    Example:

    >>> constriction = import_extra("constriction", "compression", "compress")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{feature} needs {module}, which is not installed. Install the "
            f"`{extra}` extra: pip install 'keras-ar[{extra}]'."
        ) from error
