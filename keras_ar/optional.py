"""Optional dependencies, imported on first use with a clear error.

`import keras_ar` works with keras, numpy and one backend alone; the parts
that need more (keras-hub for the Transformer text models and keras-hub
samplers) import it through `import_keras_hub`, which says which extra to
install instead of failing with a bare `ModuleNotFoundError`; `require`
checks other optional modules before work starts. Extras are installed
from a clone: `pip install -e ".[text]"` (keras_ar is not on a package
index).
"""

import importlib
import importlib.util


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
            f"`text` extra: {install_hint('text')} (keras-hub needs "
            "tensorflow-text, hence the full `tensorflow` wheel, not "
            "tensorflow-cpu)."
        ) from error


def install_hint(*extras):
    """How to install keras_ar's `extras`: from a clone, with pip.

    Example:

    >>> install_hint("onnx", "tensorflow")
    'pip install -e ".[onnx,tensorflow]" (in a clone of keras_ar)'
    """
    return f'pip install -e ".[{",".join(extras)}]" (in a clone of keras_ar)'


def is_installed(module):
    """Whether `module` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(modules, purpose):
    """Raises an ImportError naming what to install when one of `modules`
    (`{module: extra}`) is missing; `purpose` says what needs them.

    Example:

    >>> require({"json": "dev"}, "Reading JSON")  # installed: no error
    """
    missing = {m: extra for m, extra in modules.items() if not is_installed(m)}
    if missing:
        extras = sorted(set(missing.values()))
        raise ImportError(
            f"{purpose} needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: "
            f"{install_hint(*extras)}."
        )


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
            f"{feature} needs {package}, which is not installed: "
            f"{install_hint(extra)}."
        ) from error
