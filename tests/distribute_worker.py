"""Trains on one device and on two virtual CPU devices, in one process.

Usage: KERAS_BACKEND=jax|tensorflow python tests/distribute_worker.py PART OUT DATA
(JAX: the caller sets JAX_NUM_CPU_DEVICES=2; TensorFlow: two logical CPUs
are configured here, before TensorFlow starts.)

PART is one of the two below, or both as "library,recipe" (JAX: one
process start fewer; TensorFlow's collectives do not survive a second
MirroredStrategy over a different model in one process: one part each):

1. "library": for a RecurrentLM whose examples hold different numbers
   of unpadded tokens (so the replicas of a batch score different numbers
   of dimensions): the same data and seed, fit without
   shuffling on one device, then under keras.distribution.DataParallel
   (JAX) / tf.distribute.MirroredStrategy (TensorFlow); writes the loss
   histories and the final log_prob of both to OUT/library.json.
2. "recipe": the PixelCNN recipe in --tiny mode on the IDX files in
   DATA, with and without --distribute, into OUT/single and OUT/distributed.
"""

import contextlib
import json
import os
import sys

import keras

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

import numpy as np  # noqa: E402

from keras_ar.models import RecurrentLM  # noqa: E402


def cases():
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 7, (40, 6))
    lengths = rng.integers(1, 7, (40,))
    tokens[np.arange(6)[None, :] >= lengths[:, None]] = 0  # padding
    return {
        "recurrent_lm": (
            lambda: RecurrentLM(
                vocab_size=7,
                sequence_length=6,
                embedding_dim=4,
                units=8,
                pad_token_id=0,
            ),
            tokens,
        ),
    }


def distribution_scope(distributed):
    if not distributed:
        return contextlib.nullcontext()
    if keras.backend.backend() == "jax":
        devices = keras.distribution.list_devices()
        assert len(devices) == 2, devices
        return keras.distribution.DataParallel(devices=devices).scope()
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) == 2, devices
    return tf.distribute.MirroredStrategy(devices).scope()


def train(make_model, x, distributed):
    keras.utils.set_random_seed(7)
    with distribution_scope(distributed):
        model = make_model()
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = model.fit(x, batch_size=8, epochs=3, shuffle=False, verbose=0)
        log_prob = model.log_prob(x[:8])
        samples = model.generate(num_samples=2, seed=0)
    return history.history, log_prob.tolist(), samples.shape


def main(parts, out, data):
    for part in parts.split(","):
        (run_recipe if part == "recipe" else run_library)(out, data)


def run_library(out, data):
    results = {}
    for name, (make_model, x) in cases().items():
        single = train(make_model, x, False)
        distributed = train(make_model, x, True)
        results[name] = {
            "single": {"history": single[0], "log_prob": single[1]},
            "distributed": {"history": distributed[0], "log_prob": distributed[1]},
            "sample_shape": list(distributed[2]),
        }
    with open(os.path.join(out, "library.json"), "w") as f:
        json.dump(results, f)


def run_recipe(out, data):
    from recipes import pixelcnn_fashion_mnist

    for folder, flags in (("single", []), ("distributed", ["--distribute"])):
        pixelcnn_fashion_mnist.main(
            ["--tiny", "--data", data, "--out", os.path.join(out, folder),
             "--verbose", "0", *flags]
        )  # fmt: skip


if __name__ == "__main__":
    main(*sys.argv[1:4])
