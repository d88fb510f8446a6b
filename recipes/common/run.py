"""`Run`: one recipe run from flags to printed outputs, and its callbacks."""

import os
import time

from recipes.common import resume as resume_lib
from recipes.common.flags import cli_error, parse_args, settings_for
from recipes.common.nan_guard import (
    ADVICE,
    NaNLossError,
    TrainingDiverged,
    make_nan_guard,
)
from recipes.common.outputs import ensure_out_dir, print_outputs, write_metrics
from recipes.common.plots import plot_history

#: Modules every recipe needs beyond keras_ar, with the extra that has them.
RECIPE_REQUIREMENTS = {"matplotlib": "recipes"}


def check_requirements(recipe, modules):
    """Ends the run with one `error:` line naming the extra to install when
    one of `modules` (`{module: extra}`) is missing."""
    from keras_ar.optional import require

    try:
        require(modules, f"The {recipe} recipe")
    except ImportError as error:
        cli_error(error)


def seed_everything(seed):
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    np.random.seed(seed)


def compile_adam(model, settings):
    """Compiles `model` with Adam at `settings["learning_rate"]`; returns it."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    return model


def make_epoch_timer():
    """A Keras callback recording each epoch's wall time in `durations`."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.durations = []
            self._start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.durations.append(time.perf_counter() - self._start)

    return EpochTimer()


def make_time_budget(seconds):
    """A Keras callback that ends training once another epoch (as long as
    the longest so far) would end more than `seconds` after training began."""
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._start = time.perf_counter()
            self._epoch_start = self._start
            self._longest = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            self._longest = max(self._longest, now - self._epoch_start)
            if now - self._start + self._longest > seconds:
                self.model.stop_training = True

    return TimeBudget()


def make_sample_callback(write_samples, every, epochs):
    """A Keras callback calling `write_samples(model, epoch)` every `every`
    epochs (1-based epoch numbers) and after the last epoch.

    `write_samples` returns the path it wrote (or None); the paths are kept
    in the callback's `written` list. Sampling runs after the epoch timer's
    `on_epoch_end` when the timer is listed first, so it is not counted as
    training time.
    """
    import keras

    class SampleCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.written = []

        def on_epoch_end(self, epoch, logs=None):
            number = epoch + 1
            if number % every == 0 or number == epochs:
                path = write_samples(self.model, number)
                if path is not None:
                    self.written.append(path)

    return SampleCallback()


def tiny_steps(mode, steps):
    """`steps` batches per epoch in --tiny mode, else None (the whole set)."""
    return steps if mode == "tiny" else None


class Run:
    """One run of a recipe: its flags, settings, output directory and the
    steps every recipe shares.

    Creating it parses `argv` (selecting the backend), picks the settings of
    the mode from `presets`, seeds everything and creates `--out`.

    Attributes:
        recipe: the recipe's name (in metrics.json and printed lines).
        args: the parsed flags.
        settings: the mode's settings with the CLI overrides.
        out: the output directory.
        paths: files written so far, listed by `finish` in this order.
        history, timer, sampler: set by `fit`; with `--resume` they cover
            the whole run, the epochs before the interruption included.
        resumed: whether this run continues a backed-up one (`--resume`
            with a backup in `--out`; see `recipes/common/resume.py`).
    """

    def __init__(self, recipe, parser, presets, argv=None, requires=None):
        self.wall_start = time.perf_counter()
        self.recipe = recipe
        self.args = parse_args(parser, argv)
        # Before any work: a missing plotting package would otherwise end
        # the run at its first sample grid, after training.
        check_requirements(recipe, {**RECIPE_REQUIREMENTS, **(requires or {})})
        self.settings = settings_for(self.args, presets)
        seed_everything(self.args.seed)
        self.out = ensure_out_dir(self.args.out)
        self.resumed = resume_lib.prepare(self.out, self.args.resume, self.log)
        self.paths = []
        self.history = self.timer = self.sampler = None
        self.distribution = None
        if getattr(self.args, "distribute", False):
            # Before the recipe builds its model and optimizer.
            from recipes.common.distribute import Distribution

            self.distribution = Distribution(self.args.backend)
            try:
                self.distribution.check_batch_size(self.settings["batch_size"])
            except ValueError as error:
                self.distribution.close()
                cli_error(error)
            self.log(f"--distribute: {self.distribution.description}")

    def path(self, name):
        return os.path.join(self.out, name)

    def log(self, message):
        print(f"[{self.recipe}] {message}")

    def announce(self, data):
        """Prints the backend, the mode and `data` (the data's shapes)."""
        self.log(f"backend={self.args.backend} mode={self.args.mode} {data}")

    def fit(self, model, x_train, x_val, write_samples):
        """Trains for the settings' epochs and batch size, validating on
        `x_val` and calling `write_samples(model, epoch)` every
        `sample_every` epochs; returns the `History` of the whole run.

        Every epoch is backed up in `--out` (`--resume` continues from
        there); a NaN or infinite loss ends the run with `TrainingDiverged`
        (exit status 1) unless `--allow-nan`.
        """
        settings = self.settings
        batch_size = settings["batch_size"]
        if self.distribution is not None and self.distribution.num_processes > 1:
            # Multi-host JAX: each process feeds its own shard, with its
            # share of the global batch.
            x_train = self.distribution.shard(x_train)
            x_val = self.distribution.shard(x_val)
            batch_size //= self.distribution.num_processes
        self.timer = make_epoch_timer()
        self.sampler = make_sample_callback(
            write_samples, settings["sample_every"], settings["epochs"]
        )
        # Order matters: the NaN guard raises before anything of a broken
        # epoch is written; the progress record precedes the backup; the
        # time budget only asks Keras to stop after the epoch.
        callbacks = [] if self.args.allow_nan else [make_nan_guard()]
        callbacks += [
            self.timer,
            self.sampler,
            resume_lib.make_progress_callback(self.out, self.timer, self.sampler),
            resume_lib.make_backup_callback(self.out),
        ]
        callbacks += self._budget_callbacks()
        try:
            self.history = model.fit(
                x_train,
                batch_size=batch_size,
                epochs=settings["epochs"],
                validation_data=(x_val,),
                shuffle=True,
                callbacks=callbacks,
                verbose=self.args.verbose,
            )
        except NaNLossError as e:
            raise TrainingDiverged(
                f"[{self.recipe}] Training stopped: {e}. Nothing of that epoch "
                f"was written; the last complete epoch is backed up in "
                f"{resume_lib.backup_dir(self.out)} (continue it with --resume "
                f"after a change, or pass --allow-nan to train on). {ADVICE}"
            ) from None
        resume_lib.merge_progress(
            self.out, settings["epochs"], self.history, self.timer, self.sampler
        )
        return self.history

    def _budget_callbacks(self):
        seconds = getattr(self.args, "max_train_seconds", None)
        return [] if seconds is None else [make_time_budget(seconds)]

    def evaluate(self, model, x):
        """`model.evaluate` on `x` as a dict of Python floats."""
        logs = model.evaluate(
            x, batch_size=self.settings["batch_size"], verbose=0, return_dict=True
        )
        return {k: float(v) for k, v in logs.items()}

    def save_model(self, model):
        """Saves `model.keras`; returns its path (listed by `finish`)."""
        path = self.path("model.keras")
        model.save(path)
        self.paths.append(path)
        return path

    def finish(self, model, samples_path, curve_title, curve_keys, **extra):
        """Plots the training curves, writes metrics.json (with `extra`) and
        prints every path written, `samples_path` last; returns the dict
        every recipe's `main` returns."""
        self.paths.append(
            plot_history(
                self.history,
                self.path("training_curve.png"),
                curve_title,
                keys=list(curve_keys),
            )
        )
        if self.distribution is not None:
            extra["distribution"] = self.distribution.description
            self.distribution.close()
        metrics_path, _ = write_metrics(
            self.out, self.recipe, self.args, self.settings, self.history,
            self.timer, self.wall_start, **extra,
        )  # fmt: skip
        print_outputs(
            [metrics_path, *self.paths, *self.sampler.written], last=samples_path
        )
        return {
            "metrics": metrics_path,
            "model": self.path("model.keras"),
            "samples": samples_path,
            "trained_model": model,
        }
