"""Smoke tests of the real-valued recipe and benchmark (tiny settings).

The recipe and the benchmark run the same keras_ar calls on every backend
(`fit`, `forecast`, `log_prob`), which test_continuous.py checks per
backend; their own code (data, SARIMAX, metrics, plots, tables) is NumPy,
statsmodels and scikit-learn, so they run on one backend (PyTorch, where these tiny runs are quickest).
"""

import json

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="backend-independent recipe code: run on torch (the cheapest here)",
)


def test_crps_from_samples_matches_the_gaussian_formula():
    from scipy import stats

    from recipes.forecast_co2 import crps_from_samples

    rng = np.random.default_rng(0)
    samples = rng.normal(1.0, 2.0, (20000, 3))
    truth = np.array([0.0, 1.0, 4.0])
    z = (truth - 1.0) / 2.0
    exact = 2.0 * (
        z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi)
    )
    np.testing.assert_allclose(crps_from_samples(samples, truth), exact, rtol=0.02)


def test_sqrt_transform_is_a_bijection_with_its_log_jacobian():
    from recipes.forecast_co2 import from_model_scale, log_jacobian, to_model_scale

    # Counts, zero, and the values below -1 that sampled paths may reach.
    y = np.array([0.0, 0.5, 3.0, 150.0, -0.5, -1.5, -40.0])
    z = to_model_scale(y, "sqrt")
    np.testing.assert_allclose(z[:4], 2 * (np.sqrt(1 + y[:4]) - 1))
    np.testing.assert_allclose(from_model_scale(z, "sqrt"), y, atol=1e-12)
    assert np.all(np.diff(to_model_scale(np.linspace(-50, 50, 1001), "sqrt")) > 0)
    # log |dz/dy| at each point against a central difference.
    h = 1e-6
    slope = (to_model_scale(y + h, "sqrt") - to_model_scale(y - h, "sqrt")) / (2 * h)
    for value, expected in zip(y, np.log(slope)):
        np.testing.assert_allclose(log_jacobian([value], "sqrt"), expected, atol=1e-6)
    np.testing.assert_allclose(log_jacobian(y, "sqrt"), np.log(slope).sum(), rtol=1e-6)
    assert log_jacobian(y, "none") == 0.0 and to_model_scale(y, "none") is y


def test_forecast_recipe_tiny(tmp_path, capsys, monkeypatch):
    from recipes import forecast_co2

    # Three temperatures of the curve (the series' own among them): each
    # re-forecasts and re-scores the held-out years (test time).
    monkeypatch.setattr(forecast_co2, "TEMPERATURES", (0.5, 0.7, 1.0))
    out = tmp_path / "out"
    argv = ["--tiny", "--series", "sunspots", "--backtest", "1", "--early-stopping",
            "--temperature-curve"]  # fmt: skip
    result = forecast_co2.main([*argv, "--epochs", "3", "--out", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    details = metrics["details"]["sunspots"]
    # 309 years; the backtest drops the last 20, then holds out 20 more.
    assert details["past"] == 309 - 2 * 20
    assert [r["model"] for r in metrics["rows"]] == ["keras_ar DeepAR", "SARIMAX"]
    for row in result["rows"]:
        for key in ("heldout_loglik_nats_per_point", "crps", "rmse", "coverage_80"):
            assert np.isfinite(row[key]), (row, key)
        assert 0.0 <= row["coverage_80"] <= 1.0
    assert (out / "forecast_sunspots.png").read_bytes()[:4] == b"\x89PNG"
    assert "| sunspots | 20 | SARIMAX |" in (out / "results.md").read_text()
    loaded = keras.saving.load_model(str(out / "model_sunspots.keras"))
    assert loaded.lags == (11,) and loaded.ar_order == 9
    assert metrics["settings"]["ema_momentum"] == 0.99
    # Early stopping kept the epoch that scored the last 20 past years best.
    curve = details["deepar"]["validation_nll_curve"]
    assert len(curve) == 3 and details["deepar"]["best_epoch"] == np.argmin(curve) + 1
    # The model sees sunspots on the square-root scale.
    assert forecast_co2.SETUPS["sunspots"]["transform"] == "sqrt"
    values = forecast_co2.load_series("sunspots")[0]
    past = forecast_co2.to_model_scale(values[: 309 - 2 * 20].astype("float32"), "sqrt")
    kept = forecast_co2.conditional_nll(loaded, past, len(past) - 20)
    np.testing.assert_allclose(kept, min(curve), rtol=1e-5)
    # The forecast is sampled at the series' temperature; the curve
    # re-forecasts with the same models and uniforms at every temperature.
    temperature = details["deepar"]["temperature"]
    assert temperature == forecast_co2.SETUPS["sunspots"]["temperature"]
    curve = {float(t): v for t, v in details["deepar"]["temperature_curve"].items()}
    assert sorted(curve) == sorted(forecast_co2.TEMPERATURES)
    row = result["rows"][0]
    for key, value in curve[temperature].items():
        np.testing.assert_allclose(value, row[key], rtol=1e-9, err_msg=key)
    crps = [scores["crps"] for scores in curve.values()]
    assert len(set(crps)) == len(crps)  # the temperature matters
    # The held-out log-likelihood is the tempered model's, a density on the
    # sunspot numbers: the square-root scale's plus the log-Jacobian.
    future = values[309 - 2 * 20 : 309 - 20]
    whole = np.concatenate([past, forecast_co2.to_model_scale(future, "sqrt")])
    nll = forecast_co2.conditional_nll(loaded, whole, len(past), temperature)
    jacobian = forecast_co2.log_jacobian(future, "sqrt") / 20
    assert jacobian < -1.0  # (a real correction: the years' counts exceed 6)
    np.testing.assert_allclose(
        row["heldout_loglik_nats_per_point"], -nll + jacobian, rtol=1e-5
    )
    for argv, message in (
        (["--series", "nile"], "error: --series"),
        (["--backtest", "-1"], "error: --backtest must be >= 0"),
        (["--backtest", "20"], "error: --backtest 20 leaves too short a past"),
        (["--ensemble", "0"], "error: --ensemble must be >= 1"),
        (["--ema-momentum", "1"], "error: --ema-momentum must be in [0, 1)"),
        (["--ar-order", "-2"], "error: --ar-order must be >= 0"),
        (["--temperature", "0"], "error: --temperature must be > 0"),
        (["--transform", "log"], "error: argument --transform: invalid choice"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            forecast_co2.main(["--tiny", "--series", "sunspots", *argv])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_forecast_ensemble_is_the_mixture_of_its_members(tmp_path):
    from recipes import forecast_co2

    out = tmp_path / "out"
    argv = ["--tiny", "--series", "sunspots", "--ensemble", "2", "--epochs", "1",
            "--ar-order", "0", "--ema-momentum", "0", "--temperature", "0.8"]  # fmt: skip
    result = forecast_co2.main([*argv, "--out", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["setups"]["sunspots"]["ar_order"] == 0
    assert metrics["settings"]["ema_momentum"] == 0
    deepar = result["details"]["sunspots"]["deepar"]
    assert [m["seed"] for m in deepar["ensemble"]] == [0, 1]
    # --temperature overrides the series' own (no curve unless asked).
    assert deepar["temperature"] == 0.8 and "temperature_curve" not in deepar
    assert metrics["setups"]["sunspots"]["temperature"] == 0.8
    # The mixture's likelihood: the log of the mean of the members'.
    members = np.array(deepar["member_loglik_nats_per_point"]) * 20
    row = result["rows"][0]
    mixture = np.log(np.mean(np.exp(members))) / 20
    np.testing.assert_allclose(row["heldout_loglik_nats_per_point"], mixture, rtol=1e-6)
    assert members.min() / 20 <= mixture <= members.max() / 20
    assert members[0] != members[1]  # two different models
    # Each member forecasts and scores as saved.
    values = forecast_co2.load_series("sunspots")[0]
    to_z = forecast_co2.to_model_scale
    whole = np.concatenate([to_z(values[:-20].astype("float32"), "sqrt"),
                            to_z(values[-20:], "sqrt")])  # fmt: skip
    jacobian = forecast_co2.log_jacobian(values[-20:], "sqrt")
    for k, name in enumerate(("model_sunspots.keras", "model_sunspots_1.keras")):
        member = keras.saving.load_model(str(out / name))
        assert member.ar_order == 0
        nll = forecast_co2.conditional_nll(member, whole, len(whole) - 20, 0.8)
        np.testing.assert_allclose(-nll * 20 + jacobian, members[k], rtol=1e-5)


def test_tabular_benchmark_tiny(tmp_path):
    from benchmarks import tabular_density

    rows = tabular_density.main(
        ["--mode", "tiny", "--datasets", "wine", "--out", str(tmp_path)]
    )
    assert len(rows) == 3 and all(np.isfinite(r["test_loglik"]) for r in rows)
    assert "MADEMoG" in (tmp_path / "results.md").read_text()
