"""Probabilistic forecasting of real series: keras_ar's DeepAR vs SARIMAX.

Two series that ship with statsmodels: the Mauna Loa co2 record (weekly,
1958-2001; averaged to months, the 5 months without a reading filled by
linear interpolation: 526 months) and the yearly sunspot numbers (1700-2008, 309 years). Each is split
into a past, on which both forecasters are fitted, and a held-out horizon at
the end (co2: the last 72 months; sunspots: the last 20 years), which both
forecast from the same past:

- keras_ar's `DeepAR` (an LSTM with a mixture-of-Gaussians head over the
  next step, dropout 0.1 on its inputs and state while training). co2:
  the same differencing as the SARIMA model (the step plus last year's
  step, `seasonal_difference=12`), the steps 12 and 13 months back as
  inputs (so the network sees what last month's seasonal difference
  missed), steps only, no level, so that the trend carries past the
  training range, and a linear part on the last 13 seasonally differenced
  steps beside the LSTM (`ar_order=13`). Sunspots: the step 11 years back and the level as
  inputs, and a linear AR(9) on the levels beside the LSTM (`ar_order=9`,
  the order of the AR(9) it is compared with), all on Tong's square-root
  scale z = 2 (sqrt(1 + y) - 1) (`transform="sqrt"`; extended to y < -1
  as 2 (sign(u) sqrt|u| - 1), u = 1 + y, so that it is a bijection): a
  count's spread grows with its level, and on that scale one fan shape
  fits small and large cycles. DeepAR's paths are mapped back to sunspot
  numbers, and its held-out likelihood is a density on y (the log-Jacobian
  -1/2 log(1 + y) of each held-out year added). `adapt` starts each linear
  part at its least-squares fit on the past. Trained on windows of the
  past with the default NLL loss (Adam; the weights kept are the moving
  average of the steps', momentum 0.99), its scaling statistics set by
  `adapt` on the past; the forecast is
  `forecast(history=past, horizon=H, num_samples=S, temperature=T)`, S
  sample paths. The temperature T (mixture logits / T, scales * T) is a
  setting of each series (co2 0.8, sunspots 0.7), chosen on the three
  horizons before the held-out one (`--backtest B --temperature-curve`,
  B = 1, 2, 3): the lowest mean CRPS over the three horizons and seeds
  0-3 (co2: all three backends; sunspots, with the square-root scale:
  JAX). One horizon was not enough: on the raw scale sunspots' 1969-1988
  wanted 1.5, 1949-1968 more, 1929-1948 0.7. The square-root scale was
  chosen the same way: on those three horizons its mean CRPS at its best
  T is 8% below the raw scale's at its best (JAX, seeds 0-3). A network
  trained on one-step likelihoods can be right about each step's spread
  and still wrong about how the spread of a long path grows; T corrects
  the width of the fan. The held-out log-likelihood is the tempered
  model's (`log_prob(..., temperature=T)`), so all four metrics describe
  the same forecaster.
- statsmodels' `SARIMAX` fitted by maximum likelihood on the same past:
  SARIMA(1,1,1)(0,1,1)_12 for co2 (the classic airline model), AR(9) with a
  constant for sunspots; paths drawn with `simulate(anchor="end")`.

Metrics on the held-out horizon, for both (same estimators):

- held-out log-likelihood: log p(future | past) in nats per point, exact
  for both (DeepAR: `log_prob(past + future) - log_prob(past)`; SARIMAX:
  the Kalman filter's likelihood of the future given the fitted state,
  `results.extend(future).llf`);
- CRPS, from the S sample paths (per point, averaged over the horizon);
- RMSE of the mean forecast (sample mean for DeepAR, the Kalman mean for
  SARIMAX);
- coverage of the central 80% interval (10%-90% quantiles of the paths for
  DeepAR, the Gaussian interval for SARIMAX): a calibrated forecaster covers
  about 80% of the held-out points.

Run:

    python recipes/forecast_co2.py --quick --out runs/forecast_quick

`--backtest 1` forecasts the horizon before the held-out one instead (the
series cut there), to see how much the comparison depends on the period;
`--seed` changes DeepAR's initialisation and the sample paths;
`--ema-momentum 0` keeps the last step's weights instead of their average,
`--ar-order P` sets the linear part's order of every series (0: none),
`--transform none|sqrt` the scale DeepAR models every series on and
`--temperature T` the temperature of every series (1: the model's own
density), to see what each contributes; `--temperature-curve` also
forecasts the horizon at each of `TEMPERATURES` (same models, same
uniforms) and writes the four metrics of each to metrics.json (with
`--backtest` 1, 2 and 3: how the temperatures were chosen);
`--early-stopping` holds the last horizon of the past out of DeepAR's
training to choose its epoch (the conditional NLL of those points given the
rest, after each epoch; it keeps that epoch's own weights, not the
average); `--ensemble K` trains K DeepAR models from the
seeds `--seed` to `--seed + K - 1` and forecasts with their equal mixture
(each draws S paths, K * S in all; the held-out log-likelihood is the
mixture's): the spread between seeds is large on these short series, and
averaging over initialisations is the usual cure.

Outputs in --out: metrics.json (the table, settings, backend, times),
results.md (the table in markdown), forecast_<series>.png (the fan plots:
past, held-out truth, DeepAR's 50% and 80% bands and median, SARIMAX's mean
and 80% band) and model_<series>.keras (model_<series>_<k>.keras for the
other members of an ensemble; a model of the series on its `transform`
scale: `to_model_scale` and `from_model_scale` convert).
"""

import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from recipes.common.flags import BACKENDS, select_backend

RECIPE = "forecast_co2"
SERIES = ("co2", "sunspots")

#: The sampling temperatures of `--temperature-curve`.
TEMPERATURES = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75)

PRESETS = {
    # A GPU-sized run.
    "full": dict(
        units=64, num_layers=2, num_components=3, window=120, stride=1,
        epochs=200, batch_size=32, learning_rate=2e-3, num_samples=1000, dropout=0.1,
        ema_momentum=0.99,
    ),
    # Minutes on a CPU.
    "quick": dict(
        units=32, num_layers=1, num_components=3, window=96, stride=2,
        epochs=60, batch_size=16, learning_rate=3e-3, num_samples=400, dropout=0.1,
        ema_momentum=0.99,
    ),
    # Seconds: for the tests.
    "tiny": dict(
        units=4, num_layers=1, num_components=2, window=30, stride=20,
        epochs=1, batch_size=16, learning_rate=1e-2, num_samples=20, dropout=0.1,
        ema_momentum=0.99,
    ),
}  # fmt: skip

#: Per series: held-out horizon, seasonal lags, SARIMAX orders.
SETUPS = {
    "co2": dict(
        # The differencing of the SARIMA model below (d = D = 1, s = 12).
        horizon=72, lags=(12, 13), order=(1, 1, 1), seasonal_order=(0, 1, 1, 12),
        trend="n", unit="ppm", level_input=False, seasonal_difference=12,
        # A linear ARIMA(13, 1, 0)(0, 1, 0)_12 beside the LSTM: a year and a
        # month of seasonally differenced steps (chosen on --backtest 1).
        ar_order=13,
        # A narrower fan (chosen on --backtest 1, 2 and 3, see the module
        # docstring).
        temperature=0.8,
    ),
    "sunspots": dict(
        horizon=20, lags=(11,), order=(9, 0, 0), seasonal_order=(0, 0, 0, 0),
        trend="c", unit="sunspot number", level_input=True,
        # A linear AR(9) on the levels beside the LSTM: the order of the
        # AR(9) it is compared with.
        ar_order=9,
        # DeepAR models 2 (sqrt(1 + y) - 1): cycles of any height get
        # fans of one shape, wider at maxima than at minima. With it, a
        # narrower fan (both chosen on --backtest 1, 2 and 3).
        transform="sqrt",
        temperature=0.7,
        # 289 past years: a smaller LSTM on shorter windows, every start.
        quick=dict(units=16, window=60, stride=1),
    ),
}  # fmt: skip


def load_series(name):
    """The series as float64 NumPy, with its time axis (decimal years)."""
    import statsmodels.api as sm

    if name == "co2":
        data = sm.datasets.co2.load_pandas().data["co2"]
        # Monthly means; the 5 months without a weekly reading are filled
        # by linear interpolation, so that the seasonal lag stays 12.
        monthly = data.resample("MS").mean().interpolate()
        years = monthly.index.year + (monthly.index.month - 1) / 12.0
        return monthly.to_numpy("float64"), np.asarray(years, "float64")
    data = sm.datasets.sunspots.load_pandas().data
    return data["SUNACTIVITY"].to_numpy("float64"), data["YEAR"].to_numpy("float64")


#: `--transform` choices: how DeepAR sees a series (SARIMAX always sees it
#: as it is).
TRANSFORMS = ("none", "sqrt")


def to_model_scale(y, transform):
    """The series as DeepAR models it. "sqrt": Tong's variance-stabilising
    z = 2 (sqrt(1 + y) - 1) for counts such as sunspot numbers, extended
    to every real y as 2 (sign(u) sqrt|u| - 1), u = 1 + y, so that it is a
    bijection and DeepAR's density on z is a density on y."""
    if transform == "none":
        return y
    u = 1.0 + np.asarray(y, "float64")
    return (2.0 * (np.sign(u) * np.sqrt(np.abs(u)) - 1.0)).astype(np.asarray(y).dtype)


def from_model_scale(z, transform):
    """The inverse of `to_model_scale`: sample paths back in the series' units."""
    if transform == "none":
        return z
    w = np.asarray(z, "float64") / 2.0 + 1.0
    return np.sign(w) * w * w - 1.0


def log_jacobian(y, transform):
    """sum log |dz/dy| over `y`: log p(y) = log p(z) + this."""
    if transform == "none":
        return 0.0
    return float(-0.5 * np.log(np.abs(1.0 + np.asarray(y, "float64"))).sum())


def windows(series, length, stride):
    starts = range(0, len(series) - length + 1, stride)
    return np.stack([series[s : s + length] for s in starts]).astype("float32")


def crps_from_samples(samples, truth):
    """CRPS per point: E|X - y| - E|X - X'| / 2 over sample paths
    `(S, H)`, truth `(H,)`; the pair term with the sorted-sample identity."""
    samples = np.sort(np.asarray(samples, "float64"), axis=0)
    n = samples.shape[0]
    first = np.abs(samples - truth[None]).mean(0)
    weights = (2 * np.arange(1, n + 1) - n - 1)[:, None]
    pairs = (weights * samples).sum(0) * 2 / (n * n)
    return first - pairs / 2


def metrics(paths, truth, mean, low, high, log_lik):
    return {
        "heldout_loglik_nats_per_point": float(log_lik / len(truth)),
        "crps": float(crps_from_samples(paths, truth).mean()),
        "rmse": float(np.sqrt(np.mean((mean - truth) ** 2))),
        "coverage_80": float(np.mean((truth >= low) & (truth <= high))),
    }


def _simulate(result, steps, repetitions, seed):
    """Sample paths after the end of the fitted sample. statsmodels renamed
    `random_state` to `rng` (recent releases reject the old name)."""
    kwargs = dict(anchor="end", repetitions=repetitions)
    try:
        return result.simulate(steps, rng=np.random.default_rng(seed), **kwargs)
    except TypeError:
        return result.simulate(steps, random_state=seed, **kwargs)


def run_sarimax(past, future, setup, num_samples, seed):
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SARIMAX(
            past,
            order=setup["order"],
            seasonal_order=setup["seasonal_order"],
            trend=setup["trend"],
        )
        result = model.fit(disp=False)
        forecast = result.get_forecast(len(future))
        mean = np.asarray(forecast.predicted_mean)
        interval = np.asarray(forecast.conf_int(alpha=0.2))
        paths = _simulate(result, len(future), num_samples, seed)
        log_lik = result.extend(future).llf
    paths = np.asarray(paths).reshape(len(future), num_samples).T
    scores = metrics(paths, future, mean, interval[:, 0], interval[:, 1], log_lik)
    return scores, {"mean": mean, "low": interval[:, 0], "high": interval[:, 1]}


def conditional_nll(model, series, given, temperature=1.0):
    """-log p(series[given:] | series[:given]) per point, in nats (of the
    model at `temperature`)."""
    whole, before = (
        model.log_prob(x[None], temperature=temperature)[0]
        for x in (series, series[:given])
    )
    return -float(whole - before) / (len(series) - given)


def early_stopping(model, past, length, epochs):
    """`(tail, stopping)`: `tail` writes `tail_nll`, the NLL of the last
    `length` points of `past` given the rest (the model is fitted on the
    rest only), into each epoch's logs and keeps its curve; Keras'
    `EarlyStopping` then keeps the best epoch's weights (its patience lets
    every epoch run)."""
    import keras

    class TailNLL(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.curve = []

        def on_epoch_end(self, epoch, logs=None):
            value = conditional_nll(model, past, len(past) - length)
            self.curve.append(value)
            logs["tail_nll"] = value

    stopping = keras.callbacks.EarlyStopping(
        monitor="tail_nll", mode="min", patience=epochs, restore_best_weights=True
    )
    return TailNLL(), stopping


def train_deepar(past, setup, settings, seed, verbose, validation=0):
    """One DeepAR fitted on windows of `past`: `(model, extra)`."""
    import keras

    from keras_ar.models import DeepAR

    keras.utils.set_random_seed(seed)
    # With early stopping, the last `validation` points of the past are
    # held out of training and pick the epoch.
    fitted = past[: len(past) - validation]
    data = windows(fitted, settings["window"], settings["stride"])
    # A free length: trained on windows, it scores and forecasts the whole
    # past.
    model = DeepAR(
        sequence_length=None,
        units=settings["units"],
        num_layers=settings["num_layers"],
        num_components=settings["num_components"],
        lags=setup["lags"],
        level_input=setup["level_input"],
        seasonal_difference=setup.get("seasonal_difference"),
        ar_order=setup.get("ar_order", 0),
        dropout=settings["dropout"],
    )
    model.adapt(data)
    # The weights kept are an exponential moving average of the last
    # steps' (Keras swaps them in at the end of `fit`): on a few hundred
    # points the last step's weights move with the last batches, and with
    # them the forecast's drift.
    momentum = settings["ema_momentum"]
    optimizer = keras.optimizers.Adam(
        settings["learning_rate"], use_ema=momentum > 0, ema_momentum=momentum or 0.99
    )
    model.compile(optimizer=optimizer)
    callbacks = []
    if validation:
        callbacks = list(early_stopping(model, past, validation, settings["epochs"]))
    start = time.time()
    history = model.fit(
        data,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        shuffle=True,
        verbose=verbose,
        callbacks=callbacks,
    )
    extra = {
        "seed": seed,
        "train_seconds": time.time() - start,
        "final_loss": float(history.history["loss"][-1]),
        "train_windows": len(data),
    }
    if callbacks:
        tail, stopping = callbacks
        extra["best_epoch"] = stopping.best_epoch + 1
        extra["validation_nll_curve"] = tail.curve
    return model, extra


def train_models(past, setup, settings, seed, verbose, validation, ensemble):
    """`ensemble` models from the seeds `seed`, `seed + 1`, ...: `(models,
    extras)`."""
    trained = [
        train_deepar(past, setup, settings, seed + k, verbose, validation)
        for k in range(ensemble)
    ]
    return [m for m, _ in trained], [e for _, e in trained]


def forecast_paths(models, past, horizon, settings, seed, temperature):
    """Every model's S paths after `past` (model k with seed `seed + k`)."""
    return np.concatenate(
        [
            model.forecast(
                past, horizon, num_samples=settings["num_samples"], seed=seed + k,
                temperature=temperature,
            )  # fmt: skip
            for k, model in enumerate(models)
        ]
    )


def score_forecast(models, past, future, settings, seed, temperature,
                   transform="none"):  # fmt: skip
    """The models' forecast of `future` at `temperature`: `(paths, log_liks,
    scores)`, `log_liks` each model's log p(future | past) in nats and
    `scores` the four metrics of the equal mixture. `past` and `future` are
    in the series' units; the models see them through `transform`."""
    from scipy.special import logsumexp  # (statsmodels' own dependency)

    z_past = to_model_scale(past, transform)
    whole = np.concatenate([z_past, to_model_scale(future, transform)])
    paths = from_model_scale(
        forecast_paths(models, z_past, len(future), settings, seed, temperature),
        transform,
    )
    jacobian = log_jacobian(future, transform)
    log_liks = [
        -conditional_nll(model, whole, len(past), temperature) * len(future) + jacobian
        for model in models
    ]
    log_lik = logsumexp(log_liks) - np.log(len(models))
    low, high = np.quantile(paths, [0.1, 0.9], axis=0)
    return paths, log_liks, metrics(paths, future, paths.mean(0), low, high, log_lik)


def run_deepar(past, future, setup, settings, seed, verbose, validation=0, ensemble=1,
               temperature=1.0, curve=False):  # fmt: skip
    """DeepAR's forecast of `future` from `past` at `temperature`: with
    `ensemble` K > 1, K models trained from the seeds `seed`, ..., `seed +
    K - 1`, forecasting
    as their equal mixture (each draws the preset's S sample paths, K * S
    in all: paths over a long horizon drift together, so a CRPS estimated
    from S / K paths per model is visibly noisier; the held-out
    log-likelihood is the mixture's, log of the mean of the K models'
    likelihoods, exact). With `curve`, the same models also forecast at
    each of `TEMPERATURES` (with the same uniforms) and `extra` gets the
    four metrics of each. Returns `(scores, bands, extra, models)`."""
    transform = setup.get("transform", "none")
    models, extras = train_models(
        to_model_scale(past, transform), setup, settings, seed, verbose, validation,
        ensemble,
    )  # fmt: skip
    start = time.time()
    paths, log_liks, scores = score_forecast(
        models, past, future, settings, seed, temperature, transform
    )
    sample_seconds = time.time() - start
    bands = dict(zip(
        ("low", "q25", "median", "q75", "high"),
        np.quantile(paths, [0.1, 0.25, 0.5, 0.75, 0.9], axis=0),
    ))  # fmt: skip
    extra = {**extras[0], "sample_seconds": sample_seconds, "temperature": temperature}
    if curve:
        extra["temperature_curve"] = {}
        for t in TEMPERATURES:
            _, _, curve_scores = score_forecast(
                models, past, future, settings, seed, t, transform
            )
            extra["temperature_curve"][str(t)] = curve_scores
    if ensemble > 1:
        extra["ensemble"] = extras
        extra["member_loglik_nats_per_point"] = [v / len(future) for v in log_liks]
    return scores, bands, extra, models


def plot_fan(path, name, years, past, future, deepar, sarimax, unit):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = len(future)
    shown = min(len(past), 4 * h)
    t_past, t_future = years[len(past) - shown : len(past)], years[len(past) :]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(t_past, past[-shown:], color="black", lw=1, label="past")
    ax.plot(t_future, future, color="black", lw=1, ls="--", label="held out")
    ax.fill_between(t_future, deepar["low"], deepar["high"], color="C0", alpha=0.25,
                    label="DeepAR 80%")  # fmt: skip
    ax.fill_between(t_future, deepar["q25"], deepar["q75"], color="C0", alpha=0.4,
                    label="DeepAR 50%")  # fmt: skip
    ax.plot(t_future, deepar["median"], color="C0", lw=1.5, label="DeepAR median")
    ax.plot(t_future, sarimax["mean"], color="C3", lw=1.2, label="SARIMAX mean")
    ax.plot(t_future, sarimax["low"], color="C3", lw=0.8, ls=":", label="SARIMAX 80%")
    ax.plot(t_future, sarimax["high"], color="C3", lw=0.8, ls=":")
    ax.set_title(f"{name}: forecast of the last {h} points")
    ax.set_xlabel("year")
    ax.set_ylabel(unit)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_table(rows, backend):
    lines = [
        f"Backend: {backend}. Held-out log-likelihood in nats per point (higher "
        "is better); CRPS and RMSE in the series' units (lower is better); "
        "80% interval coverage (0.8 is calibrated).",
        "",
        "| series | horizon | model | log-lik / point | CRPS | RMSE | 80% coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['series']} | {row['horizon']} | {row['model']} | "
            f"{row['heldout_loglik_nats_per_point']:.3f} | {row['crps']:.3f} | "
            f"{row['rmse']:.3f} | {row['coverage_80']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", default=os.path.join("runs", RECIPE))
    mode = parser.add_mutually_exclusive_group()
    for name, text in (
        ("quick", "a run of minutes on a CPU"),
        ("tiny", "a tiny model for a few seconds (for the tests)"),
        ("full", "larger model and schedule (the default; meant for a GPU)"),
    ):
        mode.add_argument(f"--{name}", dest="mode", action="store_const",
                          const=name, help=text)  # fmt: skip
    parser.set_defaults(mode="full")
    parser.add_argument("--series", default=",".join(SERIES),
                        help=f"comma-separated, from {', '.join(SERIES)}")  # fmt: skip
    parser.add_argument("--epochs", type=int, help="override the mode's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dropout", type=float, help="override the mode's dropout")
    for flag, kind, text in (
        ("--ema-momentum", float, "the mode's momentum of the weight average "
         "kept after training (0: the last step's weights)"),
        ("--ar-order", int, "each series' order of DeepAR's linear "
         "autoregressive part (0: none)"),
        ("--temperature", float, "each series' temperature of DeepAR's "
         "forecast (and of its held-out likelihood; 1: the model's own density)"),
    ):  # fmt: skip
        parser.add_argument(flag, type=kind, help=f"override {text}")
    parser.add_argument(
        "--transform", choices=TRANSFORMS,
        help="override each series' transform of DeepAR's data (none: the "
        "series as it is; sqrt: Tong's 2 (sqrt(1 + y) - 1))",
    )  # fmt: skip
    parser.add_argument(
        "--temperature-curve", action="store_true",
        help="also forecast at each of TEMPERATURES and write each one's "
        "metrics to metrics.json (with --backtest 1, 2, 3: how the "
        "temperatures were chosen)",
    )  # fmt: skip
    parser.add_argument(
        "--early-stopping", action="store_true",
        help="hold the last horizon of the past out of DeepAR's training and "
        "keep the epoch that predicts it best (conditional NLL)",
    )  # fmt: skip
    parser.add_argument(
        "--backtest", type=int, default=0,
        help="forecast the horizon that ends this many horizons before the "
        "end of the series (0: the last one); the points after it are "
        "not used at all",
    )  # fmt: skip
    parser.add_argument(
        "--ensemble", type=int, default=1,
        help="train this many DeepAR models (seeds --seed, --seed + 1, ...) "
        "and forecast with their equal mixture",
    )  # fmt: skip
    parser.add_argument("--backend", choices=BACKENDS)
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [s for s in args.series.split(",") if s]
    unknown = sorted(set(names) - set(SERIES))
    if unknown or not names:
        parser.error(
            f"--series must name some of {', '.join(SERIES)}, got {args.series!r}"
        )
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.dropout is not None and not 0 <= args.dropout < 1:
        parser.error(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.ema_momentum is not None and not 0 <= args.ema_momentum < 1:
        parser.error(f"--ema-momentum must be in [0, 1), got {args.ema_momentum}")
    if args.ar_order is not None and args.ar_order < 0:
        parser.error(f"--ar-order must be >= 0, got {args.ar_order}")
    if args.temperature is not None and not args.temperature > 0:
        parser.error(f"--temperature must be > 0, got {args.temperature}")
    if args.ensemble < 1:
        parser.error(f"--ensemble must be >= 1, got {args.ensemble}")
    if args.backtest < 0:
        parser.error(f"--backtest must be >= 0, got {args.backtest}")
    try:
        backend = select_backend(args.backend)
    except ValueError as error:
        parser.error(str(error))
    base_settings = dict(PRESETS[args.mode])
    if args.epochs is not None:
        base_settings["epochs"] = args.epochs
    for key in ("ema_momentum", "dropout"):
        if getattr(args, key) is not None:
            base_settings[key] = getattr(args, key)
    os.makedirs(args.out, exist_ok=True)
    rows, details, paths, setups = [], {}, [], {}
    for name in names:
        setup = dict(SETUPS[name])
        if args.ar_order is not None:
            setup["ar_order"] = args.ar_order
        if args.temperature is not None:
            setup["temperature"] = args.temperature
        if args.transform is not None:
            setup["transform"] = args.transform
        setups[name] = setup
        settings = {**base_settings, **setup.get(args.mode, {})}
        values, years = load_series(name)
        horizon = setup["horizon"]
        # A backtest cuts the series before the split: both forecasters
        # see neither the held-out horizon nor anything after it.
        end = len(values) - args.backtest * horizon
        validation = horizon if args.early_stopping else 0
        if end - horizon - validation < settings["window"] + horizon:
            parser.error(
                f"--backtest {args.backtest} leaves too short a past for {name}"
            )
        values, years = values[:end], years[:end]
        past, future = values[:-horizon], values[-horizon:]
        scores, bands, extra, models = run_deepar(
            past.astype("float32"), future, setup, settings, args.seed,
            args.verbose, validation, args.ensemble, setup["temperature"],
            args.temperature_curve,
        )  # fmt: skip
        for k, model in enumerate(models):
            suffix = f"_{k}" if k else ""
            model_path = os.path.join(args.out, f"model_{name}{suffix}.keras")
            model.save(model_path)
            paths.append(model_path)
        s_scores, s_bands = run_sarimax(
            past, future, setup, settings["num_samples"], args.seed
        )
        for label, result in (("keras_ar DeepAR", scores), ("SARIMAX", s_scores)):
            rows.append({"series": name, "horizon": horizon, "model": label, **result})
        details[name] = {
            "deepar": extra,
            "settings": settings,
            "points": len(values),
            "past": len(past),
            "backtest": args.backtest,
        }
        plot = os.path.join(args.out, f"forecast_{name}.png")
        plot_fan(plot, name, years, past, future, bands, s_bands, setup["unit"])
        paths.append(plot)
    table = markdown_table(rows, backend)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table)
    import keras

    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(
            {
                "recipe": RECIPE,
                "mode": args.mode,
                "backend": backend,
                "keras": keras.__version__,
                "settings": base_settings,
                "setups": setups,
                "rows": rows,
                "details": details,
            },
            f,
            indent=2,
        )
    print(table)
    for path in [os.path.join(args.out, "metrics.json"), *paths]:
        print(path)
    return {"rows": rows, "details": details}


if __name__ == "__main__":
    main()
