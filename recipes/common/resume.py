"""Resumable runs: a backup of the training state and the run's progress.

Every epoch, `keras.callbacks.BackupAndRestore` writes the model's weights
and optimizer state to `--out/backup/`, and `make_progress_callback` writes
what the epoch produced (its losses and metrics, its wall time, the sample
file it wrote) to `--out/progress.json`. A run killed after epoch k and
started again with `--resume` restores the state of epoch k, trains epochs
k+1.. (Keras' `History` then covers only those), and reads the first k
epochs back from `progress.json`, so metrics.json, the training curve and the
list of sample files cover the whole run, without gaps or repeats. Without
`--resume`, a backup left by an earlier run is removed and training starts
from epoch 1.
"""

import json
import os
import shutil

BACKUP_DIR = "backup"
PROGRESS_FILE = "progress.json"


def backup_dir(out):
    return os.path.join(out, BACKUP_DIR)


def has_backup(out):
    """Whether `out` holds the backup of an interrupted run."""
    return os.path.exists(os.path.join(backup_dir(out), "training_metadata.json"))


def prepare(out, resume, log):
    """Readies `out` for a run; returns whether it resumes a backup.

    With `resume`, keeps the backup (if any) and the progress file; without,
    removes both so that nothing of an earlier run leaks into this one.
    """
    if resume:
        if has_backup(out):
            log(f"--resume: continuing the run backed up in {backup_dir(out)}")
            return True
        log(f"--resume: no backup in {backup_dir(out)}; starting from epoch 1")
    elif has_backup(out):
        log(
            f"{out} holds the backup of an interrupted run: starting over "
            "(pass --resume to continue it instead)"
        )
    shutil.rmtree(backup_dir(out), ignore_errors=True)
    path = os.path.join(out, PROGRESS_FILE)
    if os.path.exists(path):
        os.remove(path)
    return False


def make_backup_callback(out):
    import keras

    return keras.callbacks.BackupAndRestore(backup_dir(out))


def read_progress(out):
    """`{epoch_index: {"logs", "time_s", "samples"}}` from progress.json."""
    path = os.path.join(out, PROGRESS_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {int(k): v for k, v in json.load(f)["epochs"].items()}


def write_progress(out, epochs):
    path = os.path.join(out, PROGRESS_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump({"epochs": {str(k): epochs[k] for k in sorted(epochs)}}, f)
    # Atomic, so that a kill while writing never leaves a broken file.
    os.replace(path + ".tmp", path)


def make_progress_callback(out, timer, sampler):
    """A callback recording each epoch in progress.json.

    List it after `timer` and `sampler` (it reads what they recorded for the
    epoch) and before the `BackupAndRestore` callback (so the backup of an
    epoch is never newer than its record). The first epoch it sees is where
    the run (re)starts: records of that epoch and later, left by a run killed
    between the two writes, are dropped.
    """
    import keras

    class ProgressCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = None

        def on_epoch_begin(self, epoch, logs=None):
            if self.epochs is None:
                self.epochs = {
                    k: v for k, v in read_progress(out).items() if k < epoch
                }
                missing = sorted(set(range(epoch)) - set(self.epochs))
                if missing:
                    print(
                        f"warning: {os.path.join(out, PROGRESS_FILE)} lacks "
                        f"epochs {[k + 1 for k in missing]}; the history will "
                        "have gaps"
                    )
            self._samples_before = len(sampler.written)

        def on_epoch_end(self, epoch, logs=None):
            new_samples = sampler.written[self._samples_before :]
            self.epochs[epoch] = {
                "logs": {k: float(v) for k, v in (logs or {}).items()},
                "time_s": timer.durations[-1] if timer.durations else None,
                "samples": new_samples[-1] if new_samples else None,
            }
            write_progress(out, self.epochs)

    return ProgressCallback()


def merge_progress(out, epochs, history, timer, sampler):
    """Rewrites `history.history`, `timer.durations` and `sampler.written`
    to cover epochs 1..`epochs` of the whole run, from progress.json."""
    records = {k: v for k, v in read_progress(out).items() if k < epochs}
    order = sorted(records)
    keys = []
    for k in order:
        keys += [key for key in records[k]["logs"] if key not in keys]
    history.history = {
        key: [records[k]["logs"].get(key, float("nan")) for k in order]
        for key in keys
    }
    history.epoch = order
    timer.durations = [
        records[k]["time_s"] for k in order if records[k]["time_s"] is not None
    ]
    sampler.written = [records[k]["samples"] for k in order if records[k]["samples"]]
