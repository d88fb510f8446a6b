"""Weights saved under this backend load under the other two and give the
same log_prob (within 1e-4). Each other backend runs in its own process."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.model_checks import redraw_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _models():
    """(name, model, x, labels) for a tiny model of every family."""
    from keras_ar.models.pixelcnn import PixelCNN

    rng = np.random.default_rng(0)
    cases = []
    model = PixelCNN((3, 3, 1), levels=4, filters=8, kernel_size=3, num_residual_blocks=1)
    cases.append(("pixelcnn", model, rng.integers(0, 4, (5, 3, 3, 1)), None))
    for name, factory in _optional_factories():
        try:
            cases.append((name, *factory(rng)))
        except ImportError:
            continue
    for _, model, _, _ in cases:
        redraw_weights([model], scale=0.1)
    return cases


def _optional_factories():
    def gated(rng):
        from keras_ar.models.gated_pixelcnn import GatedPixelCNN

        model = GatedPixelCNN((3, 3, 1), levels=4, num_classes=2, filters=8, num_layers=2)
        return model, rng.integers(0, 4, (5, 3, 3, 1)), rng.integers(0, 2, (5,))

    def pixelcnnpp(rng):
        from keras_ar.models.pixelcnn_plus_plus import PixelCNNPlusPlus

        model = PixelCNNPlusPlus(
            (4, 4, 1), levels=8, num_mixtures=2, num_filters=8, num_resnet=1,
            num_hierarchies=2, dropout_rate=0.0,
        )  # fmt: skip
        return model, rng.integers(0, 8, (5, 4, 4, 1)), None

    def wavenet(rng):
        from keras_ar.models.wavenet import WaveNet

        model = WaveNet(
            levels=5, sequence_length=6, residual_channels=4, skip_channels=4,
            dilations=[1, 2],
        )  # fmt: skip
        return model, rng.integers(0, 5, (5, 6)), None

    def made(rng):
        from keras_ar.models.made import MADE

        model = MADE(input_dim=5, levels=3, hidden_units=(16,))
        return model, rng.integers(0, 3, (5, 5)), None

    def lstm(rng):
        from keras_ar.models.recurrent_lm import RecurrentLM

        model = RecurrentLM(
            vocab_size=7, sequence_length=6, embedding_dim=4, units=8, pad_token_id=None
        )
        return model, rng.integers(0, 7, (5, 6)), None

    return [("gated", gated), ("pixelcnnpp", pixelcnnpp), ("wavenet", wavenet),
            ("made", made), ("lstm", lstm)]  # fmt: skip


@pytest.mark.slow
def test_weights_load_under_other_backends(tmp_path):
    here = keras.backend.backend()
    expected = {}
    for name, model, x, labels in _models():
        model.save(str(tmp_path / f"{name}.keras"))
        arrays = {"x": x.astype("int32")}
        if labels is not None:
            arrays["labels"] = labels.astype("int32")
        np.savez(str(tmp_path / f"{name}.npz"), **arrays)
        kwargs = {} if labels is None else {"labels": labels}
        expected[name] = model.log_prob(x, **kwargs)
        # Moderate values, so that an absolute 1e-4 is a meaningful bound.
        assert np.all(np.abs(expected[name]) < 1e3), (name, expected[name])
    assert "pixelcnn" in expected
    for other in ("tensorflow", "jax", "torch"):
        if other == here:
            continue
        env = dict(os.environ, KERAS_BACKEND=other, PYTHONPATH=ROOT)
        result = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests", "cross_backend_worker.py"), str(tmp_path)],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        for name, log_prob in expected.items():
            got = np.load(str(tmp_path / f"{name}.{other}.npy"))
            np.testing.assert_allclose(got, log_prob, atol=1e-4, err_msg=f"{name}: {here} -> {other}")
