"""Recipes survive interruptions and stop visibly on a NaN loss.

A --tiny PixelCNN run is killed after its first epoch (a callback raises)
and rerun with --resume: it ends with the requested epochs, the optimizer
state carried over, and metrics.json, the curve and the sample grids cover
the whole run. A NaN loss ends the run with advice and writes nothing.
"""

import json
import math
import os

import keras
import pytest

from recipes import common, pixelcnn_fashion_mnist
from recipes.common import run as run_module
from tests.helpers import write_fashion_mnist

EPOCHS = 3
STEPS_PER_EPOCH = 2  # --tiny: 32 training images, batches of 16


@pytest.fixture(scope="module")
def fashion_dir(tmp_path_factory):
    return write_fashion_mnist(tmp_path_factory.mktemp("fashion"), 32, 16)


class Killed(Exception):
    pass


def argv(data, out, *extra):
    return ["--tiny", "--data", str(data), "--out", str(out), "--verbose", "0",
            "--epochs", str(EPOCHS), *extra]  # fmt: skip


def test_interrupted_run_resumes_with_a_continuous_history(
    fashion_dir, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    make_timer = run_module.make_epoch_timer

    def killing_timer():
        timer = make_timer()
        original = timer.on_epoch_begin

        def on_epoch_begin(epoch, logs=None):
            if epoch == 1:  # epoch 1 is complete and backed up
                raise Killed()
            original(epoch, logs)

        timer.on_epoch_begin = on_epoch_begin
        return timer

    monkeypatch.setattr(run_module, "make_epoch_timer", killing_timer)
    with pytest.raises(Killed):
        pixelcnn_fashion_mnist.main(argv(fashion_dir, out))
    assert not (out / "metrics.json").exists()
    with open(out / "progress.json") as f:
        first = json.load(f)["epochs"]
    assert list(first) == ["0"]
    assert os.listdir(out / "samples") == ["epoch_001.png"]

    monkeypatch.setattr(run_module, "make_epoch_timer", make_timer)
    result = pixelcnn_fashion_mnist.main(argv(fashion_dir, out, "--resume"))
    model = result["trained_model"]
    # The optimizer state came back: Adam counted the steps of all epochs.
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == (
        EPOCHS * STEPS_PER_EPOCH
    )
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["epochs_run"] == EPOCHS == len(metrics["time_per_epoch_s"])
    for key, values in metrics["history"].items():
        assert len(values) == EPOCHS and all(math.isfinite(v) for v in values), key
    # Epoch 1 is the interrupted run's own record, not a rerun of it.
    assert metrics["history"]["loss"][0] == first["0"]["logs"]["loss"]
    assert sorted(os.listdir(out / "samples")) == [
        f"epoch_{e:03d}.png" for e in range(1, EPOCHS + 1)
    ]
    # A finished run leaves no backup behind.
    assert not (out / "backup").exists()


def test_a_fresh_run_ignores_an_old_backup(fashion_dir, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "training_metadata.json").write_text('{"epoch": 2}')
    result = pixelcnn_fashion_mnist.main(argv(fashion_dir, out, "--epochs", "1"))
    assert "pass --resume to continue it" in capsys.readouterr().out
    assert int(keras.ops.convert_to_numpy(result["trained_model"].optimizer.iterations)) == (
        STEPS_PER_EPOCH
    )


def test_nan_loss_stops_the_run_with_advice(fashion_dir, tmp_path, monkeypatch):
    from keras_ar.models.pixelcnn import PixelCNN

    compute_loss = PixelCNN.compute_loss

    def nan_loss(self, *args, **kwargs):
        return compute_loss(self, *args, **kwargs) * float("nan")

    monkeypatch.setattr(PixelCNN, "compute_loss", nan_loss)
    out = tmp_path / "out"
    with pytest.raises(common.TrainingDiverged) as info:
        pixelcnn_fashion_mnist.main(argv(fashion_dir, out))
    message = str(info.value)
    assert "loss became nan at epoch 1, batch 1" in message
    assert "lower learning rate" in message and "--resume" in message
    # A SystemExit with a message: the script exits with status 1.
    assert isinstance(info.value, SystemExit) and isinstance(info.value.code, str)
    # Nothing from the broken model was written.
    assert not (out / "metrics.json").exists()
    assert not (out / "samples").exists() or not os.listdir(out / "samples")
