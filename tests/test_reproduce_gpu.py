"""scripts/reproduce_gpu.sh without a GPU: argument checks, the wheel
selection, the dry run's commands and the rewriting of the results section.

(The real run needs a GPU; a CPU check with `--mode tiny --epochs 1
--allow-cpu` is in the README and is not part of the suite.)
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "reproduce_gpu.sh")


def _load():
    spec = importlib.util.spec_from_file_location(
        "reproduce_gpu", os.path.join(ROOT, "scripts", "reproduce_gpu.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reproduce = _load()


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "fashion"
    folder.mkdir()
    for stem in reproduce.FASHION_FILES:
        (folder / (stem + ".gz")).write_bytes(b"")
    return folder


@pytest.fixture
def wheels(tmp_path):
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name in (
        "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl",  # installed here
        "Not_Installed.Package-1.0-py3-none-any.whl",
        "keras_ar_no_such_dist-0.1-py3-none-any.whl",
    ):
        (folder / name).write_bytes(b"")
    return folder


def test_every_listed_recipe_exists():
    names = [r[0] for r in reproduce.RECIPES]
    assert len(names) == len(set(names)) >= 4
    for _, script, epochs, budget, data, book_epochs in reproduce.RECIPES:
        assert os.path.exists(os.path.join(ROOT, script)), script
        assert 1 <= epochs <= book_epochs and budget > 0
        assert data in ("fashion", "epicurious")
    # The training budgets leave room for start-up, evaluation and sampling
    # within the 10 minutes.
    assert sum(r[3] for r in reproduce.RECIPES) <= 480


def test_wheels_already_installed_are_kept(wheels):
    install, skipped = reproduce.wheels_to_install(str(wheels))
    assert [os.path.basename(p) for p in skipped] == [
        "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    ]
    assert sorted(reproduce.wheel_name(p) for p in install) == [
        "keras-ar-no-such-dist",
        "not-installed-package",
    ]


def test_dry_run_prints_the_commands(data_dir, wheels, tmp_path):
    result = subprocess.run(
        ["bash", SCRIPT, "--data", str(data_dir), "--wheels", str(wheels),
         "--epochs", "1", "--out", str(tmp_path / "runs"), "--dry-run"],
        env=dict(os.environ, PYTHON=sys.executable), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "keep  numpy-2.0.0" in out and "add   Not_Installed.Package" in out
    assert "pip install --no-index --no-deps --target" in out
    assert not (tmp_path / "runs" / "site").exists()  # nothing installed
    commands = [
        line for line in out.splitlines() if line.startswith("$ ") and ".py" in line
    ]
    commands = [c for c in commands if "recipes/" in c]
    assert len(commands) == len(reproduce.RECIPES)
    for command in commands:
        assert "--full" in command and "--epochs 1 " in command
        assert "--backend jax" in command and "--max-train-seconds" in command
    assert sum(f"--data {data_dir}" in c for c in commands) == 3


def test_only_and_mode(data_dir, tmp_path):
    args = reproduce.parse_args(
        ["--data", str(data_dir), "--only", "lstm_recipes", "--mode", "tiny",
         "--epicurious", "r.json", "--out", str(tmp_path)]
    )  # fmt: skip
    ((name, command, epochs, _, book_epochs, out),) = reproduce.recipe_commands(args)
    assert name == "lstm_recipes" and epochs == book_epochs == 25
    assert "--tiny" in command and command[command.index("--data") + 1] == "r.json"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "/no/such/folder"], "no such folder"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--only", "nope"], "unknown recipe 'nope'"),
    ],
)
def test_bad_arguments(argv, message, data_dir, capsys):
    if "--data" not in argv:
        argv = ["--data", str(data_dir), *argv]
    with pytest.raises(SystemExit):
        reproduce.parse_args(argv)
    assert message in capsys.readouterr().err


def test_missing_idx_files_and_wheels(tmp_path, capsys):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--data", str(tmp_path)])
    assert "t10k-images-idx3-ubyte" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    for stem in reproduce.FASHION_FILES:
        (tmp_path / stem).write_bytes(b"")
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--data", str(tmp_path), "--wheels", str(empty)])
    assert "no .whl files" in capsys.readouterr().err


def test_results_section_is_rewritten_in_place(tmp_path, data_dir):
    results = tmp_path / "docs" / "results.md"
    results.parent.mkdir()
    results.write_text("# Measured results\n\nkept above\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(
        json.dumps(
            {"test_bits_per_dim": 0.5, "epochs_run": 2, "mean_time_per_epoch_s": 3.0}
        )
    )
    (run / "samples.png").write_bytes(b"png")
    args = reproduce.parse_args(["--data", str(data_dir), "--results", str(results)])
    first = reproduce._result("pixelcnn", str(run), 0, 9.0, 4, 130, 150)
    reproduce.write_results(args, "gpu H100", [first])
    results.write_text(results.read_text() + "\nkept below\n")
    second = reproduce._result("pixelcnn", str(run), 0, 8.0, 2, 130, 150)
    reproduce.write_results(args, "gpu H100", [second])
    text = results.read_text()
    assert text.count(reproduce.BEGIN) == text.count(reproduce.END) == 1
    assert text.startswith("# Measured results\n\nkept above\n")
    assert text.rstrip().endswith("kept below")
    assert "test NLL 0.5000 bits/dim" in text and "| 3.0 s | 8 s |" in text
    assert "2 of 4" not in text and "| 2 (150) |" in text  # the second run
    assert (results.parent / "gpu" / "pixelcnn_samples.png").read_bytes() == b"png"


def test_time_budget_stops_before_the_epoch_that_would_overrun(monkeypatch):
    """`--max-train-seconds`: the recipes' budget callback, on a fake clock."""
    from recipes.common import run as run_lib

    clock = [0.0]
    monkeypatch.setattr(run_lib.time, "perf_counter", lambda: clock[0])

    class FakeModel:
        stop_training = False

    budget = run_lib.make_time_budget(100)
    budget.set_model(FakeModel())
    budget.on_train_begin()
    stopped_after = None
    for epoch, duration in enumerate([30, 25, 35, 10]):
        budget.on_epoch_begin(epoch)
        clock[0] += duration
        budget.on_epoch_end(epoch)
        if budget.model.stop_training:
            stopped_after = epoch + 1
            break
    # After 2 epochs (55 s, longest 30 s) a third fits; after 3 (90 s,
    # longest 35 s) a fourth would end at 125 s > 100 s.
    assert stopped_after == 3


def test_failed_recipe_and_cpu_check_results(tmp_path, data_dir, monkeypatch):
    """A failed recipe is reported as failed; a CPU check writes its results
    into the run folder with relative paths, not into docs/results.md."""
    out = tmp_path / "runs"
    args = reproduce.parse_args(
        ["--data", str(data_dir), "--out", str(out), "--backend", "torch",
         "--allow-cpu"]
    )  # fmt: skip
    assert args.backend == "torch"
    assert reproduce.results_path(args, "cpu") == os.path.join(str(out), "results.md")
    docs = os.path.join(reproduce.REPO, "docs", "results.md")
    assert reproduce.results_path(args, "gpu NVIDIA H100") == docs
    (_, command, *_), *_ = reproduce.recipe_commands(args)
    assert command[command.index("--backend") + 1] == "torch"
    failed = reproduce._result(
        "lstm_recipes", str(out / "lstm_recipes"), 1, 5.0, 25, 80, 25
    )
    reproduce.write_results(args, "cpu", [failed])
    text = (out / "results.md").read_text()
    assert "failed (exit status 1)" in text and "budget" not in text
    assert "Device: cpu, torch backend" in text and "--backend torch" in text
    assert str(tmp_path) not in text and "`OUT/lstm_recipes`" in text
