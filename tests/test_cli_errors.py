"""Command-line mistakes give one `error:` line and exit status 2, no
traceback: `python -m keras_ar.export` and `python -m keras_ar.onnx` with a
missing, corrupt or non-Keras file, or without the packages they need (the
message names the extra to install)."""

import zipfile

import keras
import pytest

from keras_ar import optional
from keras_ar.export.cli import main as export_main
from keras_ar.onnx import main as onnx_main

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="backend-independent: the checks run before any export",
)


def _error_line(main, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.fixture
def bad_files(tmp_path):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip at all")
    not_keras = tmp_path / "other.keras"
    with zipfile.ZipFile(not_keras, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return {
        "missing": (str(tmp_path / "missing.keras"), "is not a file"),
        "corrupt": (str(corrupt), "not a zip archive (corrupt"),
        "not_keras": (str(not_keras), "no config.json"),
    }


@pytest.mark.parametrize("kind", ["missing", "corrupt", "not_keras"])
def test_export_cli_reports_bad_files(kind, bad_files, tmp_path, capsys):
    path, expected = bad_files[kind]
    line = _error_line(export_main, [path, str(tmp_path / "out")], capsys)
    assert expected in line
    line = _error_line(onnx_main, [path, str(tmp_path / "m.onnx")], capsys)
    assert expected in line


def _hide(monkeypatch, *modules):
    real = optional.is_installed
    monkeypatch.setattr(
        optional, "is_installed", lambda m: m not in modules and real(m)
    )


def test_missing_tensorflow_names_the_extra(tmp_path, capsys, monkeypatch):
    model_file = tmp_path / "m.keras"
    with zipfile.ZipFile(model_file, "w") as archive:
        archive.writestr("config.json", "{}")
    _hide(monkeypatch, "tensorflow", "tf2onnx")
    for backend in ("tensorflow", "jax"):
        argv = [str(model_file), str(tmp_path / "out"), "--backend", backend]
        line = _error_line(export_main, argv, capsys)
        assert "needs tensorflow" in line
        assert 'pip install -e ".[tensorflow]"' in line
    argv = [str(model_file), str(tmp_path / "m.onnx"), "--backend", "tensorflow"]
    line = _error_line(onnx_main, argv, capsys)
    assert "tensorflow, tf2onnx" in line
    assert 'pip install -e ".[onnx,tensorflow]"' in line


def test_other_mistakes(tmp_path, capsys):
    model_file = tmp_path / "m.keras"
    with zipfile.ZipFile(model_file, "w") as archive:
        archive.writestr("config.json", "{}")
    (tmp_path / "out" / "1").mkdir(parents=True)
    argv = [str(model_file), str(tmp_path / "out"), "--version", "1"]
    assert "exists" in _error_line(export_main, argv, capsys)
    argv = [str(model_file), str(tmp_path / "out"), "--version", "0"]
    assert "`version` must be an int >= 1" in _error_line(export_main, argv, capsys)
    assert "pairs" in _error_line(onnx_main, [str(model_file)], capsys)
    # A zip with a config.json that is no model: reported as unloadable.
    argv = [str(model_file), str(tmp_path / "m.onnx"), "--backend", "jax"]
    line = _error_line(onnx_main, argv, capsys)
    assert "could not be loaded as a keras_ar model" in line


def test_distribute_batch_that_does_not_split(tmp_path, capsys, monkeypatch):
    from recipes.common import distribute
    from recipes.common.flags import build_parser
    from recipes.common.run import Run

    def two_devices(self, backend):
        self.backend, self.num_devices, self._scope = backend, 2, None
        self.num_processes, self.process_index = 1, 0
        self.description = "two fake devices"

    closed = []
    monkeypatch.setattr(distribute.Distribution, "__init__", two_devices)
    monkeypatch.setattr(distribute.Distribution, "close", lambda s: closed.append(1))
    presets = {"full": {"epochs": 1, "batch_size": 4, "sample_every": 1}}
    parser = build_parser("test", default_out=str(tmp_path / "run"))
    argv = ["--distribute", "--batch-size", "3", "--out", str(tmp_path / "run")]
    line = _error_line(lambda a: Run("test", parser, presets, a), argv, capsys)
    assert "--batch-size 3 does not split over 2 devices" in line
    assert closed == [1]


def test_text_recipe_without_data_says_where_to_get_it(tmp_path, capsys, monkeypatch):
    from recipes import lstm_recipes
    from recipes.common import text

    monkeypatch.setattr(text, "default_data_file", lambda relative: None)
    out = ["--tiny", "--out", str(tmp_path / "run")]
    line = _error_line(lstm_recipes.main, out, capsys)
    assert "full_format_recipes.json" in line and "Kaggle" in line
    assert "--data" in line
    missing = str(tmp_path / "missing.json")
    line = _error_line(lstm_recipes.main, out + ["--data", missing], capsys)
    assert "missing.json" in line and "is not a file" in line
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_recipes_check_optional_packages_first(tmp_path, capsys, monkeypatch):
    from recipes import pixelcnn_fashion_mnist, transformer_recipes

    _hide(monkeypatch, "matplotlib", "keras_hub")
    out = ["--tiny", "--out", str(tmp_path / "run")]
    line = _error_line(pixelcnn_fashion_mnist.main, out, capsys)
    assert "needs matplotlib" in line and 'pip install -e ".[recipes]"' in line
    line = _error_line(transformer_recipes.main, out, capsys)
    assert "matplotlib, keras_hub" in line
    assert 'pip install -e ".[recipes,text]"' in line
