"""Data-parallel training (`--distribute`) on two virtual CPU devices.

The worker (tests/distribute_worker.py) runs in its own process, where the
two devices are set up before the backend starts: JAX_NUM_CPU_DEVICES=2
for JAX, two logical CPUs for TensorFlow. Checked here:

- same data and seed give the same loss curve on two devices as on one,
  within a relative 1e-4 (float32 sums in a different order): for a padded
  RecurrentLM whose replicas score different numbers of tokens (the loss is
  normalized over the global batch), and for the PixelCNN recipe;
- the recipe's `--distribute` run matches its one-device run, says which
  engine it used, and its saved model loads and generates here, in a
  process with one device and no distribution;
- on torch, `--distribute` is refused with the DDP route named.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from recipes import pixelcnn_fashion_mnist
from tests.helpers import write_fashion_mnist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND = keras.backend.backend()
RTOL = 1e-4


@pytest.fixture(scope="module")
def worker_out(tmp_path_factory):
    if BACKEND == "torch":
        pytest.skip("torch has no --distribute (see test_torch_refuses_distribute)")
    out = tmp_path_factory.mktemp("distribute")
    data = out / "fashion"
    data.mkdir()
    write_fashion_mnist(data, 32, 16)
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_NUM_CPU_DEVICES="2")
    # TensorFlow needs a process per part (see the worker); JAX takes both.
    parts = ("library,recipe",) if BACKEND == "jax" else ("library", "recipe")
    for part in parts:
        result = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests", "distribute_worker.py"),
             part, str(out), str(data)],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, (
            part,
            result.stdout[-2000:],
            result.stderr[-4000:],
        )
    return out


@pytest.mark.slow
def test_same_loss_curve_on_two_devices(worker_out):
    with open(worker_out / "library.json") as f:
        result = json.load(f)["recurrent_lm"]
    single, distributed = result["single"], result["distributed"]
    assert len(single["history"]["loss"]) == 3
    for key, values in single["history"].items():
        np.testing.assert_allclose(
            distributed["history"][key], values, rtol=RTOL, err_msg=key
        )
    # Training moved the weights (else equal curves would prove nothing).
    assert single["history"]["loss"][-1] < single["history"]["loss"][0]
    np.testing.assert_allclose(distributed["log_prob"], single["log_prob"], rtol=RTOL)
    assert result["sample_shape"][0] == 2


@pytest.mark.slow
def test_recipe_distribute_matches_one_device(worker_out):
    metrics = {}
    for folder in ("single", "distributed"):
        with open(worker_out / folder / "metrics.json") as f:
            metrics[folder] = json.load(f)
    engine = (
        "keras.distribution.DataParallel over 2"
        if BACKEND == "jax"
        else "tf.distribute.MirroredStrategy over 2"
    )
    assert metrics["distributed"]["distribution"].startswith(engine)
    assert metrics["distributed"]["args"]["distribute"] is True
    assert "distribution" not in metrics["single"]
    for key, values in metrics["single"]["history"].items():
        np.testing.assert_allclose(
            metrics["distributed"]["history"][key], values, rtol=RTOL, err_msg=key
        )
    np.testing.assert_allclose(
        metrics["distributed"]["test_bits_per_dim"],
        metrics["single"]["test_bits_per_dim"],
        rtol=RTOL,
    )
    # The model trained on two devices loads and samples here, on one.
    model = keras.saving.load_model(worker_out / "distributed" / "model.keras")
    single = keras.saving.load_model(worker_out / "single" / "model.keras")
    x = single.generate(num_samples=4, seed=3)
    np.testing.assert_allclose(model.log_prob(x), single.log_prob(x), rtol=RTOL)
    samples = model.generate(num_samples=3, seed=0)
    assert samples.shape == (3, 8, 8, 1)
    assert samples.min() >= 0 and samples.max() < 4


def test_torch_refuses_distribute(tmp_path, capsys):
    """--distribute is a clear command-line error on torch, naming DDP; the
    other backends accept the flag."""
    if BACKEND != "torch":
        parser = pixelcnn_fashion_mnist.build_parser()
        args = parser.parse_args(["--distribute"])
        assert args.distribute is True
        return
    with pytest.raises(SystemExit) as exit_info:
        pixelcnn_fashion_mnist.main(["--tiny", "--distribute", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "--distribute is not supported on the torch backend" in message
    assert "DistributedDataParallel" in message and "torchrun" in message
