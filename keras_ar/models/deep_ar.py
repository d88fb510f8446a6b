"""`DeepAR`: a probabilistic forecaster for real-valued series (an
autoregressive recurrent network with mixture-of-Gaussians outputs, in the
spirit of Salinas et al., 2020, "DeepAR: Probabilistic forecasting with
autoregressive recurrent networks")."""

import keras
import numpy as np
from keras import ops

from keras_ar.backend.slicing import loop_slice, loop_slice_update
from keras_ar.layers.mixture_of_gaussians import MixtureOfGaussians
from keras_ar.models.continuous_model import ContinuousAutoregressiveModel
from keras_ar.ops import mixture_of_gaussians as mog
from keras_ar.validation import check_choice, check_int, check_rate

_CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}


@keras.saving.register_keras_serializable(package="keras_ar")
class DeepAR(ContinuousAutoregressiveModel):
    """Recurrent forecaster: p(x) = prod_t p(x_t | x_<t), a mixture of
    Gaussians per step, on the `AutoregressiveModel` API.

    At step t the recurrent trunk (`num_layers` LSTM or GRU layers) reads
    features of the past only: a flag for t = 0, the last value's level
    `(x_{t-1} - loc) / level_scale`, the last step
    `(x_{t-1} - x_{t-2}) / step_scale`, and, for each lag L in `lags`, the
    step one lag back `(x_{t-L} - x_{t-L-1}) / step_scale` (e.g. a seasonal
    lag of 12 for monthly data; missing past values read as 0). The
    `MixtureOfGaussians` head gives the distribution of the next step in
    scaled units, around the last value:

        x_t = x_{t-1} + step_scale * e_t   (t >= 1),
        x_0 = loc + level_scale * e_0,     e_t ~ MoG(params_t),

    so `log_prob(x)` is an exact density over whole series (the scaling is
    a fixed affine map per step; its log-Jacobian is subtracted) and the
    model carries a trend forward without ever seeing values outside its
    training range.

    Seasonal differencing. With `seasonal_difference=s` the location of a
    step also carries the step one season back, as the seasonal difference
    of a SARIMA model (D = 1) does:

        x_t = x_{t-1} + (x_{t-s} - x_{t-s-1}) + step_scale * e_t   (t > s),

    so the network models what a seasonal-naive forecast of the steps
    misses, and a path repeats last season's shape by default instead of
    having to learn it. Still a fixed affine map per step: the density
    stays exact.

    Linear autoregressive part. With `ar_order=p` a linear map of the last
    p values is added to every mixture component's location, beside the
    network (the "autoregressive component" of LSTNet, Lai et al., 2018):

        x_t = x_{t-1} + ... + step_scale * (sum_k w_k z_{t-k} + e_t),

    where z_{t-k} is the scaled level `(x_{t-k} - loc) / level_scale` with
    `level_input=True`, else the scaled step `(x_{t-k} - x_{t-k-1}) /
    step_scale` (seasonally differenced, minus the step s + k back, with
    `seasonal_difference=s`). `adapt` starts w at the least-squares fit of
    that linear model on the training series (zero before). A recurrent
    network is a poor linear extrapolator on a few hundred points, and its
    fit moves with the initialisation; the linear part gives it an AR(p)
    (on levels) or an ARIMA(p, 1, 0) (on steps; ARIMA(p, 1, 0)(0, 1, 0)_s
    with seasonal differencing) to build on, so that the network has only
    what that misses left to model. The map depends on past values only:
    the density stays exact.

    Scale handling. `loc`, `level_scale` and `step_scale` are
    non-trainable weights set by `adapt(series)` from the training data
    (mean and standard deviation of the values, standard deviation of their
    steps) and saved with the model. DeepAR's per-series mean scaling
    divides by a statistic of the series' own conditioning range; here the
    statistics are the training data's, so that the density of a whole
    series does not depend on its own future. Call `adapt` before `fit`
    whenever the series are far from zero mean and unit variance (co2 is
    about 350 ppm).

    `call(x)` returns `(B, T, 3K + 2)`: the head's mixture parameters of
    each scaled step `e_t`, then the step's location and scale (`x_{t-1}`
    and `step_scale`, or `loc` and `level_scale` at t = 0).

    Generation. `generate(num_samples, prefix=history, horizon=H)` returns
    sample paths `(num_samples, P + H)`: the given history (`(P,)` for all
    samples, or one row per sample) followed by H drawn steps.
    `use_cache=True` carries the recurrent state from step to step (one
    cell step per value; the history is replayed through the same cells);
    `use_cache=False` runs the whole network on the series at every step.
    Both draw each value from the same two uniforms, so the same seed gives
    the same paths (to float rounding). `forecast` and `forecast_quantiles`
    wrap it for forecasting. `temperature=t` divides each step's mixture
    logits by t and multiplies its scales by t (a narrower fan below 1, a
    wider one above), and `log_prob(x, temperature=t)` is the exact density
    of that tempered forecaster, so a temperature chosen on held-out data
    is scored as it is sampled.

    Args:
        sequence_length: length of the training series (the
            `event_shape`), or None for any length.
        units: recurrent units per layer (>= 1).
        num_layers: stacked recurrent layers (>= 1).
        num_components: Gaussians in the output mixture (>= 1).
        lags: seasonal lags (ints >= 2) whose past steps are fed as inputs.
        cell: "lstm" or "gru".
        level_input: feed the last value's level (True); False leaves it
            out, so that the model sees steps only and is unchanged by a
            shift of the whole series (for trending series whose future
            levels lie outside the training range).
        seasonal_difference: None, or a season length s (int >= 2) whose
            step is added to each step's location (see above).
        ar_order: the number p (int >= 0) of past values read by the
            linear autoregressive part (see above); 0 leaves it out.
        dropout: dropout rate in [0, 1) of each recurrent layer's inputs
            and state during training (a regulariser for short series; no
            dropout when scoring or sampling).
        min_log_scale, max_log_scale: the clamp of the head's log-scales
            (in units of `step_scale`).
        **kwargs: `keras.Model` arguments (name, dtype).

    Example:
    ```python
    import numpy as np
    from keras_ar.models import DeepAR

    t = np.arange(240, dtype="float32")
    series = 300 + 0.1 * t + 3 * np.sin(2 * np.pi * t / 12)
    windows = np.stack([series[s : s + 48] for s in range(0, 180, 4)])
    model = DeepAR(sequence_length=48, units=16, lags=(12,))
    model.adapt(windows)
    model.compile(optimizer="adam")
    model.fit(windows, epochs=2, verbose=0)
    paths = model.forecast(series[:200], horizon=12, num_samples=50, seed=0)
    paths.shape  # (50, 12)
    model.forecast_quantiles(series[:200], horizon=12, quantiles=(0.1, 0.5, 0.9))
    ```
    """

    # The recurrent state must have read the history.
    _replays_prefix = True

    def __init__(
        self,
        sequence_length=None,
        units=40,
        num_layers=2,
        num_components=3,
        lags=(),
        cell="lstm",
        level_input=True,
        seasonal_difference=None,
        ar_order=0,
        dropout=0.0,
        min_log_scale=mog.MIN_LOG_SCALE,
        max_log_scale=mog.MAX_LOG_SCALE,
        **kwargs,
    ):
        if sequence_length is not None:
            sequence_length = check_int("sequence_length", sequence_length, minimum=1)
        super().__init__(event_shape=(sequence_length,), **kwargs)
        self.sequence_length = sequence_length
        self.units = check_int("units", units, minimum=1)
        self.num_layers = check_int("num_layers", num_layers, minimum=1)
        self.num_components = check_int("num_components", num_components, minimum=1)
        if isinstance(lags, (int, np.integer)) and not isinstance(lags, bool):
            lags = (lags,)
        if not isinstance(lags, (list, tuple)):
            raise ValueError(f"`lags` must be a list of ints >= 2, got {lags!r}")
        self.lags = tuple(check_int("lags", lag, minimum=2) for lag in lags)
        self.cell = check_choice("cell", cell, tuple(_CELLS))
        if not isinstance(level_input, (bool, np.bool_)):
            raise TypeError(f"`level_input` must be a bool, got {level_input!r}")
        self.level_input = bool(level_input)
        if seasonal_difference is not None:
            seasonal_difference = check_int(
                "seasonal_difference", seasonal_difference, minimum=2
            )
        self.seasonal_difference = seasonal_difference
        self.ar_order = check_int("ar_order", ar_order, minimum=0)
        self.dropout = check_rate("dropout", dropout)
        self.num_features = 2 + int(self.level_input) + len(self.lags)

        policy = self.dtype_policy
        self.recurrent_layers = [
            keras.layers.RNN(
                _CELLS[cell](
                    self.units,
                    dropout=self.dropout,
                    recurrent_dropout=self.dropout,
                    name=f"{cell}_cell_{i}",
                    dtype=policy,
                ),
                return_sequences=True,
                name=f"{cell}_{i}",
                dtype=policy,
            )
            for i in range(self.num_layers)
        ]
        self.head = MixtureOfGaussians(
            self.num_components,
            min_log_scale=min_log_scale,
            max_log_scale=max_log_scale,
            name="mixture",
            dtype=policy,
        )
        width = self.num_features
        for rnn in self.recurrent_layers:
            rnn.build((None, None, width))
            width = self.units
        self.head.build((None, None, self.units))
        self.linear = None
        if self.ar_order:
            # In float32 under any policy: it moves the location, which the
            # density reads in float32. Zeros until `adapt` fits it.
            self.linear = keras.layers.Dense(
                1, use_bias=False, kernel_initializer="zeros", name="linear_ar",
                dtype="float32",
            )  # fmt: skip
            self.linear.build((None, None, self.ar_order))
        # The scaling statistics (see `adapt`): saved with the weights.
        self.loc = self._statistic("loc", 0.0)
        self.level_scale = self._statistic("level_scale", 1.0)
        self.step_scale = self._statistic("step_scale", 1.0)
        self.built = True

    def _statistic(self, name, value):
        return self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(value),
            trainable=False,
            dtype="float32",
            name=name,
        )

    def adapt(self, series):
        """Sets `loc`, `level_scale` and `step_scale` from training series,
        and with `ar_order > 0` starts the linear part at its least-squares
        fit on them (see `_least_squares_ar`).

        Args:
            series: float array `(N, T)` (or one series `(T,)`), finite.
        Returns:
            `self`.
        """
        x = np.asarray(self.validate_values(series, "series"), "float64")
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.size == 0:
            raise ValueError(
                f"`series` must be a non-empty array (N, T) or (T,), got {x.shape}"
            )
        level = float(x.std()) or 1.0
        steps = np.diff(x, axis=1)
        season = self.seasonal_difference
        if season is not None and steps.shape[1] > season:
            # What the location leaves to the network: the step minus the
            # step one season back.
            steps = steps[:, season:] - steps[:, :-season]
        step = float(steps.std()) if steps.size else level
        loc, step = float(x.mean()), step or level
        self.loc.assign(loc)
        self.level_scale.assign(level)
        self.step_scale.assign(step)
        if self.linear is not None:
            w = self._least_squares_ar(x, loc, level, step)
            self.linear.kernel.assign(w[:, None].astype("float32"))
        return self

    def _least_squares_ar(self, x, loc, level, step):
        """The linear part's weights `(p,)` that best predict the scaled
        step (what the location leaves, `(x_t - base_t) / step_scale`) from
        z_{t-1}, ..., z_{t-p} in least squares, with an intercept (the
        head's biases carry it), over every position of `x (N, T)` where
        all of them exist; zeros if there is none. For Gaussian errors this
        is the AR(p) fit a classical forecaster starts from; training then
        moves it jointly with the network, which need not learn the linear
        dynamics from a zero start (on a few hundred points, with every
        seed a different compromise between the two)."""
        p, s = self.ar_order, self.seasonal_difference or 0
        first = max(p, s + 1) if self.level_input else p + 1 + s
        t = np.arange(max(first, 1), x.shape[1])
        if t.size == 0:
            return np.zeros(p)

        def raw_step(k):  # x_{t-k} - x_{t-k-1}
            return x[:, t - k] - x[:, t - k - 1]

        base = x[:, t - 1] + (raw_step(s) if s else 0.0)
        target = (x[:, t] - base) / step
        if self.level_input:
            z = [(x[:, t - k] - loc) / level for k in range(1, p + 1)]
        else:
            z = [
                (raw_step(k) - (raw_step(k + s) if s else 0.0)) / step
                for k in range(1, p + 1)
            ]
        design = np.stack(z + [np.ones_like(target)], axis=-1).reshape(-1, p + 1)
        w = np.linalg.lstsq(design, target.reshape(-1), rcond=None)[0]
        return w[:p]

    # ------------------------------------------------------------------
    # Features and the network
    def _features(self, t, prev1, prev2, lagged, valid):
        """Trunk inputs `(..., F)` at steps t from the past values.

        `prev1`, `prev2` and each `lagged[j] = (x_{t-L}, x_{t-L-1})` are
        float tensors of one shape; `valid[name]` says which of them exist
        (float 0/1, broadcastable)."""
        loc = ops.cast(self.loc, "float32")
        level_scale = ops.cast(self.level_scale, "float32")
        step_scale = ops.cast(self.step_scale, "float32")
        first = 1.0 - valid["prev1"]
        level = valid["prev1"] * (prev1 - loc) / level_scale
        step = valid["prev2"] * (prev1 - prev2) / step_scale
        features = [first * ops.ones_like(level), step]
        if self.level_input:
            features.append(level)
        for (a, b), ok in zip(lagged, valid["lags"]):
            features.append(ok * (a - b) / step_scale)
        return ops.stack(features, axis=-1)

    def _base_and_scale(self, prev1, has_prev, season, past):
        """The location and scale of step t's value: `x_{t-1}` (plus the
        seasonal step `season = ((x_{t-s}, x_{t-s-1}), exists)` if any, plus
        the linear part on `past`, see `_linear_inputs`) and `step_scale`
        (t >= 1), `loc` and `level_scale` (t = 0)."""
        base = ops.where(has_prev > 0, prev1, ops.cast(self.loc, "float32"))
        if season is not None:
            (a, b), ok = season
            base = base + ok * (a - b)
        scale = ops.where(
            has_prev > 0,
            ops.cast(self.step_scale, "float32"),
            ops.cast(self.level_scale, "float32"),
        )
        if self.linear is not None:
            # Zero at t = 0: every input is a missing value there.
            base = base + scale * self.linear(self._linear_inputs(*past))[..., 0]
        return base, scale

    def _linear_inputs(self, value, exists):
        """The linear part's inputs `(..., p)`: z_{t-1}, ..., z_{t-p}, from
        `value(k)` = x_{t-k} and `exists(k)` (float 0/1); a missing value
        reads as 0."""
        loc = ops.cast(self.loc, "float32")
        if self.level_input:
            scale = ops.cast(self.level_scale, "float32")
            z = [
                exists(k) * (value(k) - loc) / scale
                for k in range(1, self.ar_order + 1)
            ]
        else:
            scale = ops.cast(self.step_scale, "float32")
            s = self.seasonal_difference
            z = []
            for k in range(1, self.ar_order + 1):
                step = value(k) - value(k + 1)
                if s is None:
                    z.append(exists(k + 1) * step / scale)
                else:
                    # The seasonally differenced step, as the network's
                    # target is (and as `step_scale` is adapted to).
                    step = step - (value(k + s) - value(k + s + 1))
                    z.append(exists(k + s + 1) * step / scale)
        return ops.stack(z, axis=-1)

    def _sequence_parts(self, x):
        """Per-step past values of the whole series `x (B, T)`: the
        arguments of `_features`, and the seasonal step
        `((x_{t-s}, x_{t-s-1}), exists)` (None without seasonal
        differencing)."""
        x = ops.cast(x, "float32")
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        season = self.seasonal_difference or 0
        pad = max(self.lags + (max(season, 1), self.ar_order + season)) + 1
        padded = ops.concatenate([ops.zeros((batch, pad), "float32"), x], axis=1)
        t = ops.arange(length)

        def shifted(k):
            return padded[:, pad - k : pad - k + length]

        def exists(k):
            return ops.cast(t >= k, "float32")[None, :]

        prev1, prev2 = shifted(1), shifted(2)
        lagged = [(shifted(lag), shifted(lag + 1)) for lag in self.lags]
        valid = {
            "prev1": exists(1),
            "prev2": exists(2),
            "lags": [exists(lag + 1) for lag in self.lags],
        }
        season = None
        if self.seasonal_difference is not None:
            s = self.seasonal_difference
            season = ((shifted(s), shifted(s + 1)), exists(s + 1))
        return (t, prev1, prev2, lagged, valid), season, (shifted, exists)

    def call(self, inputs, training=False):
        x, _ = self.unpack_inputs(inputs)
        if len(x.shape) != 2:
            raise ValueError(
                f"DeepAR expects series of shape (batch, length), got {tuple(x.shape)}"
            )
        parts, season, past = self._sequence_parts(x)
        hidden = ops.cast(self._features(*parts), self.compute_dtype)
        for rnn in self.recurrent_layers:
            hidden = rnn(hidden, training=training)
        params = ops.cast(self.head(hidden), "float32")
        # The affine map of each step goes out with the parameters, so that
        # the loss reads no weights (JAX's `fit` detaches them from the
        # model while it runs).
        base, scale = self._base_and_scale(parts[1], parts[4]["prev1"], season, past)
        affine = ops.stack(
            [base * ops.ones_like(x), ops.broadcast_to(scale, ops.shape(x))], axis=-1
        )
        return ops.concatenate([params, affine], axis=-1)

    def log_prob_and_dims(self, x, outputs, temperature=1.0):
        x = ops.cast(x, "float32")
        params, base, scale = outputs[..., :-2], outputs[..., -2], outputs[..., -1]
        e = (x - base) / scale
        log_p = self.head.log_prob(e, params, temperature) - ops.log(scale)
        log_prob = ops.sum(log_p, axis=-1)
        dims = ops.ones_like(log_prob) * ops.cast(ops.shape(x)[1], "float32")
        return log_prob, dims

    # ------------------------------------------------------------------
    # Generation
    def _generation_setup(self, num_samples, prefix=None, horizon=None):
        if prefix is None:
            prefix = np.zeros((num_samples, 0), "float32")
        else:
            prefix = self.validate_values(prefix, "prefix")
            if prefix.ndim == 1:
                prefix = np.broadcast_to(prefix[None], (num_samples, len(prefix)))
            if prefix.ndim != 2 or len(prefix) not in (1, num_samples):
                raise ValueError(
                    "`prefix` must have shape (P,), (1, P) or (num_samples, P) "
                    f"= ({num_samples}, P), got {prefix.shape}"
                )
            prefix = np.broadcast_to(prefix, (num_samples, prefix.shape[1]))
        given = prefix.shape[1]
        if horizon is None:
            if self.sequence_length is None or self.sequence_length <= given:
                raise ValueError(
                    "`horizon` (the number of steps to draw) is required when "
                    "the model has no sequence_length longer than the prefix"
                )
            horizon = self.sequence_length - given
        horizon = check_int("horizon", horizon, minimum=1)
        x0 = np.zeros((num_samples, given + horizon), "float32")
        x0[:, :given] = prefix
        return x0, given, given + horizon

    def _generation_state(self, x0, labels, use_cache):
        state = super()._generation_state(x0, labels, use_cache)
        if use_cache:
            batch = ops.shape(state["x"])[0]
            state["cache"] = {
                f"state_{layer}_{j}": ops.zeros((batch, size), self.compute_dtype)
                for layer, rnn in enumerate(self.recurrent_layers)
                for j, size in enumerate(_sizes(rnn))
            }
        return state

    def _serving_prefix(self):
        # The exported `generate` keeps the first `prefix_length` values.
        return ("prefix", "prefix_length", 1)

    def _read(self, x, j):
        """`x[:, j]` for a step index j that may be negative (then 0), and
        whether it exists."""
        batch = ops.shape(x)[0]
        value = loop_slice(x, [0, ops.maximum(j, 0)], [batch, 1])[:, 0]
        return value, ops.cast(j >= 0, "float32")

    def _read_step(self, x, j):
        """`((x_j, x_{j-1}), whether x_{j-1} exists)`: the step ending at a
        past index j (a lag's input, or the seasonal step)."""
        earlier, ok = self._read(x, j - 1)
        return (self._read(x, j)[0], earlier), ok

    def _generation_step(self, i, state, noise_i, temperature, use_cache):
        x = state["x"]
        prev1, has1 = self._read(x, i - 1)
        if use_cache:
            prev2, has2 = self._read(x, i - 2)
            lagged, lag_ok = [], []
            for lag in self.lags:
                pair, ok = self._read_step(x, i - lag)
                lagged.append(pair)
                lag_ok.append(ok)
            valid = {"prev1": has1, "prev2": has2, "lags": lag_ok}
            features = self._features(i, prev1, prev2, lagged, valid)
            hidden = ops.cast(features, self.compute_dtype)
            cache = dict(state["cache"])
            for layer, rnn in enumerate(self.recurrent_layers):
                keys = [f"state_{layer}_{j}" for j in range(len(_sizes(rnn)))]
                hidden, new = rnn.cell(hidden, [cache[k] for k in keys], training=False)
                new = new if isinstance(new, (list, tuple)) else [new]
                cache.update(dict(zip(keys, new)))
            params = ops.cast(self.head(hidden), "float32")
        else:
            params = ops.take(self(x, training=False), i, axis=1)[:, :-2]
        season = None
        if self.seasonal_difference is not None:
            season = self._read_step(x, i - self.seasonal_difference)
        reads = {1: (prev1, has1)}  # (read above)

        def read(k):  # x_{i-k} and whether it exists, each read once
            if k not in reads:
                reads[k] = self._read(x, i - k)
            return reads[k]

        past = (lambda k: read(k)[0], lambda k: read(k)[1])
        base, scale = self._base_and_scale(prev1, has1, season, past)
        value = base + scale * self.head.sample(params, noise_i, temperature)
        if "given_steps" in state:
            given = self._read(x, i)[0]
            value = ops.where(i < state["given_steps"], given, value)
        x = loop_slice_update(x, [0, i], ops.expand_dims(value, -1))
        state = {**state, "x": x}
        if use_cache:
            state["cache"] = cache
        return state

    # ------------------------------------------------------------------
    # Forecasting helpers
    def forecast(
        self, history, horizon, num_samples=100, seed=None, temperature=1.0, **kwargs
    ):
        """Sample paths of the next `horizon` values after `history`.

        Args:
            history: float `(P,)` (one series) or `(B, P)`, finite.
            horizon: steps to forecast (>= 1).
            num_samples: paths per series.
            seed, temperature, **kwargs: as for `generate` (e.g.
                `use_cache`, `batch_size`).
        Returns:
            float32 NumPy `(num_samples, horizon)` for one series, or
            `(B, num_samples, horizon)`.
        """
        history = self.validate_values(history, "history")
        check_int("num_samples", num_samples, minimum=1)
        single = history.ndim == 1
        if single:
            history = history[None]
        if history.ndim != 2 or history.shape[1] < 1:
            raise ValueError(
                f"`history` must have shape (P,) or (B, P) with P >= 1, got "
                f"{history.shape}"
            )
        prefix = np.repeat(history, num_samples, axis=0)
        paths = self.generate(
            num_samples=len(prefix),
            prefix=prefix,
            horizon=horizon,
            seed=seed,
            temperature=temperature,
            **kwargs,
        )[:, history.shape[1] :]
        paths = paths.reshape(len(history), num_samples, -1)
        return paths[0] if single else paths

    def forecast_quantiles(
        self, history, horizon, quantiles=(0.1, 0.5, 0.9), num_samples=200, **kwargs
    ):
        """Quantiles of the forecast, from `num_samples` sample paths.

        Returns:
            float32 NumPy `(len(quantiles), horizon)` for one series, or
            `(B, len(quantiles), horizon)`.
        """
        q = np.asarray(quantiles, "float64")
        if q.ndim != 1 or q.size == 0 or (q <= 0).any() or (q >= 1).any():
            raise ValueError(
                f"`quantiles` must be a list of numbers in (0, 1), got {quantiles!r}"
            )
        paths = self.forecast(history, horizon, num_samples=num_samples, **kwargs)
        return np.moveaxis(np.quantile(paths, q, axis=-2), 0, -2).astype("float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "units": self.units,
                "num_layers": self.num_layers,
                "num_components": self.num_components,
                "lags": list(self.lags),
                "cell": self.cell,
                "level_input": self.level_input,
                "seasonal_difference": self.seasonal_difference,
                "ar_order": self.ar_order,
                "dropout": self.dropout,
                "min_log_scale": self.head.min_log_scale,
                "max_log_scale": self.head.max_log_scale,
            }
        )
        return config


def _sizes(rnn):
    size = rnn.cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]
