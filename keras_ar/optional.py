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


def import_optional(module, feature, extra, package=None):
    """Returns `module`, or raises an ImportError naming the pip `extra`
    to install and `feature` (what needed it).

    Args:
        module: the module to import, e.g. "sklearn.metrics".
        feature: what needs it, for the message, e.g. "anomaly metrics".
        extra: the keras-ar extra that installs it, e.g. "anomaly".
        package: the pip name when it differs from the module's top name.

    Example:

    >>> metrics = import_optional("sklearn.metrics", "AUROC", "anomaly")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = package or module.split(".")[0]
        raise ImportError(
            f"{feature} needs {package}, which is not installed. Install the "
            f"`{extra}` extra: pip install 'keras-ar[{extra}]'."
        ) from error
