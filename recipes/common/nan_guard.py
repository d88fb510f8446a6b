"""Stops a recipe whose loss becomes NaN or infinite, visibly.

Keras' `TerminateOnNaN` stops quietly and lets the epoch end, so the
backup, the sample grids and metrics.json would be written from a broken
model. `make_nan_guard` raises `NaNLossError` at the first non-finite loss
(training or validation) instead, before anything of that epoch is written;
`Run.fit` turns it into `TrainingDiverged`, which ends the script with exit
status 1 and a message that says what to try.
"""

import math


class NaNLossError(RuntimeError):
    """The loss became NaN or infinite (raised from inside `fit`)."""


class TrainingDiverged(SystemExit):
    """Ends a recipe whose training diverged: exit status 1, with advice."""


ADVICE = (
    "Things to try: a lower learning rate; check the data (integers in "
    "[0, levels): keras_ar raises for bad arrays, but a streamed batch out of "
    "range gives a NaN loss); train in float32 rather than mixed precision; "
    "clip gradients (e.g. keras.optimizers.Adam(clipnorm=1.0)); a larger "
    "batch size."
)


def make_nan_guard():
    """A `TerminateOnNaN` that raises `NaNLossError` (list it first)."""
    import keras

    class NaNGuard(keras.callbacks.TerminateOnNaN):
        def __init__(self):
            super().__init__(raise_error=True)
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_batch_end(self, batch, logs=None):
            self._check((logs or {}).get("loss"), f"batch {batch + 1}", "loss")

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                if key.startswith("val_") and key.endswith("loss"):
                    self._check(value, "validation", key)

        def _check(self, value, where, key):
            if value is not None and not math.isfinite(float(value)):
                raise NaNLossError(
                    f"{key} became {float(value)} at epoch {self.epoch + 1}, {where}"
                )

    return NaNGuard()
