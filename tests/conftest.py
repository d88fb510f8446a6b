import os

# On PyTorch `generate` compiles its cached step by default, a first call of
# seconds to minutes per model and shape: the tests sample hundreds of tiny
# models, so they sample eagerly unless a test asks otherwise
# (test_torch_compile.py checks the compiled step of every family against
# the eager one). Set before keras_ar is used, so every worker inherits it.
os.environ.setdefault("KERAS_AR_TORCH_COMPILE", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Scripts that tests run in subprocesses, not test modules: importing one
# (as --doctest-modules would) runs its process set-up (export_worker.py
# makes keras unimportable).
collect_ignore = [
    "cross_backend_worker.py",
    "distribute_worker.py",
    "export_worker.py",
    "data/make_saved.py",
]


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.backend.backend()}"


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
