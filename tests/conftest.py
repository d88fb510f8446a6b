import keras
import numpy as np
import pytest

# Scripts that tests run in subprocesses, not test modules: importing one
# (as --doctest-modules would) runs its process set-up (export_worker.py
# makes keras unimportable).
collect_ignore = [
    "cross_backend_worker.py",
    "distribute_worker.py",
    "export_worker.py",
]


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.backend.backend()}"


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
