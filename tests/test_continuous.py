"""Real-valued data: the mixture-of-Gaussians ops and head, MADEMoG, DeepAR.

Normalisation is checked by integrating the density on fine grids (1-D
mixtures, a 2-D MADEMoG), sampling by Kolmogorov-Smirnov tests (of the
mixture's CDF, and of each conditional of MADEMoG through the probability
integral transform), causality with `dependency_mask`. The pure maths of
the ops and the normalisation checks run on one backend each; causality,
the generation paths, save/load, bad inputs and export on every backend.
"""

import os

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_ar.layers import MixtureOfGaussians
from keras_ar.models import DeepAR, MADEMoG
from keras_ar.ops import mixture_of_gaussians as mog
from tests.helpers import dependency_mask, only_on, run_layer_test, take_turns
from tests.model_checks import redraw_weights

BACKEND = keras.backend.backend()


def one_backend(name):
    """Backend-independent maths (keras.ops only) runs on one backend; the
    checks are spread over the three to share the test budget."""
    return only_on(name, f"backend-independent maths: run on {name}")


tf_only = one_backend("tensorflow")


def random_params(rng, shape, k, spread=1.0):
    logits = rng.normal(0, 2, shape + (k,))
    means = rng.normal(0, 3 * spread, shape + (k,))
    log_scales = rng.uniform(-1.5, 1.0, shape + (k,))
    return np.concatenate([logits, means, log_scales], -1).astype("float32")


def tiny_made(num_masks=1, seed=0):
    model = MADEMoG(
        input_dim=3, num_components=2, hidden_units=(12,), ordering=[2, 0, 1],
        seed=seed, num_masks=num_masks,
    )  # fmt: skip
    redraw_weights([model], scale=0.4, seed=seed)
    return model


def tiny_deepar(sequence_length=10, seasonal_difference=None, ar_order=0,
                level_input=True):  # fmt: skip
    model = DeepAR(sequence_length=sequence_length, units=6, num_layers=1,
                   num_components=2, lags=(3,), level_input=level_input,
                   seasonal_difference=seasonal_difference,
                   ar_order=ar_order)  # fmt: skip
    # (The linear part's zero start is redrawn too: the checks see it.)
    redraw_weights([model], scale=0.4)
    return model


def series(n=6, length=10, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    x = 50 + 0.5 * t + 3 * np.sin(2 * np.pi * t / 3) + rng.normal(0, 0.5, (n, length))
    return x.astype("float32")


# ----------------------------------------------------------------------
# The ops
@tf_only
@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_1d_density_integrates_to_one_and_cdf_matches(temperature):
    rng = np.random.default_rng(0)
    params = random_params(rng, (6,), 3)
    grid = np.linspace(-40, 40, 160001).astype("float32")
    tempered = dict(temperature=temperature)
    log_p = mog.gaussian_mixture_log_prob(grid[:, None], params[None], 3, **tempered)
    density = np.exp(ops.convert_to_numpy(log_p).astype("float64"))
    mass = np.trapezoid(density, grid, axis=0)
    np.testing.assert_allclose(mass, 1.0, atol=1e-3)
    assert density.max() > 0.3  # a peaked density: the test is not vacuous
    # The CDF is the running integral of the density.
    cdf = ops.convert_to_numpy(
        mog.gaussian_mixture_cdf(grid[:, None], params[None], 3, **tempered)
    )
    step = np.diff(grid.astype("float64"))[:, None]
    running = np.concatenate(
        [np.zeros((1, 6)), np.cumsum((density[1:] + density[:-1]) / 2 * step, 0)]
    )
    np.testing.assert_allclose(cdf[::1000], running[::1000], atol=1e-3)


@tf_only
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_samples_follow_the_cdf(temperature):
    """Samples at a temperature follow the CDF at that temperature."""
    rng = np.random.default_rng(1)
    params = random_params(rng, (4,), 3)
    n = 4000
    u = rng.random((n, 4, 2)).astype("float32")
    x = ops.convert_to_numpy(
        mog.sample_gaussian_mixture(np.broadcast_to(params, (n, 4, 9)), u, 3, temperature)
    )

    def cdf_of(j, t):
        return lambda v: ops.convert_to_numpy(
            mog.gaussian_mixture_cdf(
                np.asarray(v, "float32"), np.broadcast_to(params[j], (len(v), 9)), 3,
                temperature=t,
            )
        )  # fmt: skip

    for j in range(4):
        assert stats.kstest(x[:, j], cdf_of(j, temperature)).pvalue > 0.01
    if temperature != 1.0:
        # ... and not the untempered CDF (the temperature is not ignored).
        assert stats.kstest(x[:, 0], cdf_of(0, 1.0)).pvalue < 1e-3
        return
    # A wrong CDF is rejected (the test has power).
    shifted = lambda v: ops.convert_to_numpy(  # noqa: E731
        mog.gaussian_mixture_cdf(
            np.asarray(v, "float32") - 0.5, np.broadcast_to(params[0], (len(v), 9)), 3
        )
    )
    assert stats.kstest(x[:, 0], shifted).pvalue < 1e-3


@pytest.mark.parametrize("value", [1e4, -1e4])
def test_stable_at_extreme_parameters(value):
    """On every backend: erf, erfinv and log-sum-exp are each backend's own."""
    rng = np.random.default_rng(2)
    params = np.full((5, 9), value, "float32")
    params[1, :3] = [value, -value, 0.0]  # extreme logits, one dominating
    params[2, 6:] = [-value, value, 0.0]  # log-scales far outside the clamp
    params[3] = rng.normal(0, abs(value), 9)
    x = np.array([0.0, value, -value, 1.0, 3.0], "float32")
    log_p = ops.convert_to_numpy(mog.gaussian_mixture_log_prob(x, params, 3))
    cdf = ops.convert_to_numpy(mog.gaussian_mixture_cdf(x, params, 3))
    sample = ops.convert_to_numpy(
        mog.sample_gaussian_mixture(params, rng.random((5, 2)).astype("float32"), 3)
    )
    assert np.isfinite(log_p).all() and np.isfinite(sample).all()
    assert np.isfinite(cdf).all() and ((cdf >= 0) & (cdf <= 1)).all()
    # The gradient of the NLL is finite too.
    head = MixtureOfGaussians(num_components=3)
    head.build((None, 2))
    features = np.array([[value, -value], [1.0, 2.0]], "float32")
    loss = -ops.sum(head.log_prob(np.array([value, 0.0], "float32"), head(features)))
    assert np.isfinite(ops.convert_to_numpy(loss))


def test_mixture_of_gaussians_layer(tmp_path):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(4, 5, 6)).astype("float32")
    params = run_layer_test(
        MixtureOfGaussians,
        {"num_components": 3, "min_log_scale": -5.0},
        features,
        expected_output_shape=(4, 5, 9),
        tmp_path=tmp_path,
    )
    head = MixtureOfGaussians(num_components=3)
    assert head.log_prob(np.zeros((4, 5), "float32"), params).shape == (4, 5)
    with pytest.raises(ValueError, match="min_log_scale"):
        MixtureOfGaussians(min_log_scale=2.0, max_log_scale=1.0)
    with pytest.raises(ValueError, match="num_components"):
        MixtureOfGaussians(num_components=0)


# ----------------------------------------------------------------------
# MADEMoG
@one_backend("tensorflow")
def test_made_mog_density_integrates_to_one_in_2d():
    model = MADEMoG(input_dim=2, num_components=2, hidden_units=(8,), seed=1,
                    num_masks=2)  # fmt: skip
    redraw_weights([model], scale=0.5, seed=1)
    grid = np.linspace(-15, 15, 601).astype("float32")
    a, b = np.meshgrid(grid, grid, indexing="ij")
    x = np.stack([a.ravel(), b.ravel()], 1)
    density = np.exp(model.log_prob(x, batch_size=len(x))).reshape(a.shape)
    mass = np.trapezoid(np.trapezoid(density, grid, axis=1), grid)
    assert abs(mass - 1.0) < 1e-3, mass
    # Not a product of marginals: x_1's density moves with x_0.
    assert density.max() > 0.05


@pytest.mark.parametrize("num_masks", [2])
def test_made_mog_is_autoregressive(num_masks):
    model = tiny_made(num_masks=num_masks, seed=3)
    d, p = 3, 3 * model.total_components

    def fn(x):
        out = model(x.reshape(1, d), training=False)
        return ops.convert_to_numpy(out).reshape(1, d * p)

    x = np.random.default_rng(0).normal(size=(1, d, 1)).astype("float32")
    dep = dependency_mask(fn, x, eps=0.5)  # (D, D * P)
    position = np.argsort(model.ordering)  # step at which each dimension comes
    for src in range(d):
        for dst in range(d):
            if position[src] >= position[dst]:
                assert not dep[src, dst * p : (dst + 1) * p].any(), (src, dst)
    last = model.ordering[-1]
    assert dep[:, last * p : (last + 1) * p].any()  # the last one reads its past


@pytest.mark.parametrize("num_masks", [1, 2])
def test_made_mog_generation_paths_agree(num_masks):
    model = tiny_made(num_masks=num_masks, seed=4)
    np.testing.assert_allclose(
        model.generate(num_samples=4, seed=5),
        model.generate(num_samples=4, seed=5, use_cache=False),
        atol=1e-4,
    )


@one_backend("torch")
def test_made_mog_samples_follow_each_conditional():
    """The ensemble (two mask sets) and its cached sampling path."""
    model = tiny_made(num_masks=2, seed=4)
    x = model.generate(num_samples=1500, seed=0)
    # Probability integral transform: P(X_d <= x_d | x_<d) is uniform.
    u = model.conditional_cdf(x)
    for d in range(3):
        assert stats.kstest(u[:, d], "uniform").pvalue > 1e-3, d
    # ... and not for samples of another density (the test has power).
    assert stats.kstest(model.conditional_cdf(x * 1.3)[:, 0], "uniform").pvalue < 1e-3
    # At a temperature, the samples follow the tempered conditionals, the
    # ones `log_prob(..., temperature)` scores, and not the model's own.
    cold = model.generate(num_samples=1500, seed=1, temperature=0.6)
    u = model.conditional_cdf(cold, temperature=0.6)
    for d in range(3):
        assert stats.kstest(u[:, d], "uniform").pvalue > 1e-3, d
    assert min(
        stats.kstest(model.conditional_cdf(cold)[:, d], "uniform").pvalue for d in range(3)
    ) < 1e-3


def test_made_mog_trains_and_round_trips(tmp_path):
    rng = np.random.default_rng(5)
    z = rng.normal(size=(256, 3)).astype("float32")
    x = np.stack([z[:, 0], z[:, 0] ** 2 - 1 + 0.1 * z[:, 1], z[:, 2]], 1)
    model = MADEMoG(input_dim=3, num_components=3, hidden_units=(32,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(x, epochs=6, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.05 and "nats_per_dim" in history.history
    path = str(tmp_path / "made_mog.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.log_prob(x[:16]), model.log_prob(x[:16]), atol=1e-5
    )


# ----------------------------------------------------------------------
# DeepAR
@pytest.mark.parametrize(
    *take_turns("season, ar_order, level", [(None, 0, True), (3, 0, True),
                                            (3, 2, False), (None, 4, True)])
)  # fmt: skip
def test_deepar_is_causal_and_generation_paths_agree(season, ar_order, level):
    model = tiny_deepar(seasonal_difference=season, ar_order=ar_order,
                        level_input=level)  # fmt: skip
    x = series(1)

    def fn(v):
        # The mixture and the location (where the linear part and the
        # seasonal step act): every output of step t reads x_<t only.
        return ops.convert_to_numpy(model(v.reshape(1, 10))).reshape(1, -1)

    dep = dependency_mask(fn, x.reshape(1, 10, 1), eps=0.5).reshape(10, 10, -1)
    for t in range(10):
        assert not dep[t:, t].any(), t  # step t reads x_<t only
        if t:
            assert dep[t - 1, t].any()
    history = series(1, 6)[0]
    cached = model.generate(num_samples=5, prefix=history, horizon=4, seed=1)
    plain = model.generate(
        num_samples=5, prefix=history, horizon=4, seed=1, use_cache=False
    )
    np.testing.assert_allclose(cached, plain, atol=1e-3)
    np.testing.assert_array_equal(cached[:, :6], np.broadcast_to(history, (5, 6)))
    assert cached.shape == (5, 10) and cached.dtype == np.float32


@one_backend("tensorflow")
@pytest.mark.parametrize(
    "season, ar_order, temperature", [(None, 0, 1.0), (3, 0, 1.0), (3, 1, 0.6)]
)
def test_deepar_density_is_normalized_per_step(season, ar_order, temperature):
    """The last step's conditional density integrates to one (at a
    temperature too), and the forecast's samples follow it."""
    model = tiny_deepar(sequence_length=None, seasonal_difference=season,
                        ar_order=ar_order, level_input=not ar_order)  # fmt: skip
    model.adapt(series())
    x = np.repeat(series(1, 5), 4001, axis=0)
    grid = np.linspace(-40, 140, 4001).astype("float32")
    x[:, -1] = grid
    log_p = model.log_prob(x, batch_size=4001, temperature=temperature)
    density = np.exp(log_p - model.log_prob(x[:1, :-1], temperature=temperature))
    assert abs(np.trapezoid(density, grid) - 1.0) < 1e-3
    if temperature == 1.0:
        return
    # One-step forecasts at that temperature against the density's CDF
    # (the running integral on the grid).
    step = np.diff(grid.astype("float64"))
    cdf = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * step)])
    draws = model.forecast(x[0, :-1], 1, num_samples=2000, seed=3,
                           temperature=temperature)[:, 0]  # fmt: skip
    assert stats.kstest(draws, lambda v: np.interp(v, grid, cdf)).pvalue > 1e-3
    untempered = model.forecast(x[0, :-1], 1, num_samples=2000, seed=3)[:, 0]
    assert stats.kstest(untempered, lambda v: np.interp(v, grid, cdf)).pvalue < 1e-3


def test_deepar_seasonal_difference_moves_the_location():
    """Each step's location is x_{t-1} + x_{t-s} - x_{t-s-1} once the
    season back exists; `adapt` scales what is left to the network."""
    x = series(2, 10)
    plain, seasonal = tiny_deepar(), tiny_deepar(seasonal_difference=3)
    seasonal.set_weights(plain.get_weights())
    base = ops.convert_to_numpy(plain(x))[..., -2]
    moved = ops.convert_to_numpy(seasonal(x))[..., -2]
    np.testing.assert_allclose(moved[:, :4], base[:, :4])
    np.testing.assert_allclose(
        moved[:, 4:], base[:, 4:] + x[:, 1:7] - x[:, :6], rtol=1e-6
    )
    seasonal.adapt(x)
    d = np.diff(x.astype("float64"), axis=1)
    step = float(ops.convert_to_numpy(seasonal.step_scale))
    np.testing.assert_allclose(step, (d[:, 3:] - d[:, :-3]).std(), rtol=1e-5)


@pytest.mark.parametrize("level", [True, False])
def test_deepar_linear_part_moves_the_location(level):
    """With `ar_order=p` each step's location gains
    step_scale * sum_k w_k z_{t-k}: scaled levels with `level_input`, else
    seasonally differenced scaled steps; z is 0 where x_{t-k} (or the steps
    it needs) does not exist, so the first steps are left alone."""
    x = series(2, 10)
    season = None if level else 2
    plain = tiny_deepar(seasonal_difference=season, level_input=level)
    linear = tiny_deepar(seasonal_difference=season, ar_order=2, level_input=level)
    for model in (plain, linear):
        model.adapt(x)
    w = np.array([[0.7], [-0.3]], "float32")
    for a, b in zip(linear.recurrent_layers + [linear.head],
                    plain.recurrent_layers + [plain.head]):  # fmt: skip
        a.set_weights(b.get_weights())
    linear.linear.kernel.assign(w)
    base = ops.convert_to_numpy(plain(x))[..., -2]
    moved = ops.convert_to_numpy(linear(x))[..., -2]
    xd = x.astype("float64")
    get = lambda v: float(ops.convert_to_numpy(v))  # noqa: E731
    shift = np.zeros_like(xd)
    for t in range(10):
        for k, wk in ((1, 0.7), (2, -0.3)):
            if level and t - k >= 0:
                z = (xd[:, t - k] - get(linear.loc)) / get(linear.level_scale)
            elif not level and t - k - 3 >= 0:
                step = xd[:, t - k] - xd[:, t - k - 1]
                z = (step - (xd[:, t - k - 2] - xd[:, t - k - 3])) / get(
                    linear.step_scale
                )
            else:
                continue
            shift[:, t] += wk * z
    shift[:, 1:] *= get(linear.step_scale)
    np.testing.assert_allclose(moved - base, shift, rtol=1e-4, atol=1e-4)
    assert np.abs(shift).max() > 0.1 and not shift[:, 0].any()
    with pytest.raises(ValueError, match="`ar_order`"):
        DeepAR(ar_order=-1)


def test_deepar_adapt_fits_the_linear_part():
    """`adapt` starts the linear part at the least-squares AR fit: on an
    AR(2) series (levels) the weights are (phi_1 - 1, phi_2) in scaled
    units; on a series whose seasonally differenced steps are AR(1), the
    first weight is phi and the second about 0."""
    rng = np.random.default_rng(3)
    n = 4000
    x = np.zeros(n)
    for t in range(2, n):
        x[t] = 0.6 * x[t - 1] + 0.25 * x[t - 2] + rng.normal()
    x = (20 + 5 * x).astype("float32")
    model = DeepAR(units=2, num_layers=1, ar_order=2).adapt(x)
    get = lambda v: float(ops.convert_to_numpy(v))  # noqa: E731
    ratio = get(model.level_scale) / get(model.step_scale)
    w = ops.convert_to_numpy(model.linear.kernel)[:, 0] / ratio
    np.testing.assert_allclose(w, [0.6 - 1, 0.25], atol=0.04)
    # Seasonal: steps d_t = d_{t-4} + w_t, w_t = 0.5 w_{t-1} + noise.
    w_t, d = np.zeros(n), np.zeros(n)
    for t in range(1, n):
        w_t[t] = 0.5 * w_t[t - 1] + rng.normal()
        d[t] = (d[t - 4] if t >= 4 else 0.0) + w_t[t]
    series_ = np.cumsum(d).astype("float32").reshape(4, n // 4)
    model = DeepAR(units=2, num_layers=1, ar_order=2, level_input=False,
                   seasonal_difference=4).adapt(series_)  # fmt: skip
    w = ops.convert_to_numpy(model.linear.kernel)[:, 0]
    np.testing.assert_allclose(w, [0.5, 0.0], atol=0.05)


def test_deepar_dropout_only_in_training():
    x = series(2, 10)
    plain = tiny_deepar()
    dropped = DeepAR(sequence_length=10, units=6, num_layers=1, num_components=2,
                     lags=(3,), dropout=0.5)  # fmt: skip
    dropped.set_weights(plain.get_weights())
    np.testing.assert_allclose(dropped.log_prob(x), plain.log_prob(x), rtol=1e-6)
    trained = ops.convert_to_numpy(dropped(x, training=True))
    assert not np.allclose(trained, ops.convert_to_numpy(plain(x)))
    for rate in (1.0, -0.1):
        with pytest.raises(ValueError, match="`dropout`"):
            DeepAR(dropout=rate)


def test_deepar_forecast_and_round_trip(tmp_path):
    x = series(24, 10)
    model = tiny_deepar(seasonal_difference=3, ar_order=2, level_input=False)
    model.adapt(x)
    loc = float(keras.ops.convert_to_numpy(model.loc))
    np.testing.assert_allclose(loc, x.mean(), rtol=1e-5)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(x, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    paths = model.forecast(x[0, :7], horizon=3, num_samples=40, seed=0)
    assert paths.shape == (40, 3) and np.isfinite(paths).all()
    bands = model.forecast_quantiles(x[:2, :7], horizon=3, num_samples=40, seed=0)
    assert bands.shape == (2, 3, 3) and (np.diff(bands, axis=1) >= 0).all()
    path = str(tmp_path / "deepar.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(x[:4]), model.log_prob(x[:4]), atol=1e-4)
    np.testing.assert_allclose(
        loaded.forecast(x[0, :7], 3, num_samples=40, seed=1),
        model.forecast(x[0, :7], 3, num_samples=40, seed=1),
        atol=1e-4,
    )


# ----------------------------------------------------------------------
# Bad inputs
@pytest.mark.parametrize("fill", [np.nan, np.inf])
def test_non_finite_data_is_refused(fill):
    model = tiny_made()
    model.compile(optimizer="adam")
    x = np.zeros((4, 3), "float32")
    x[1, 2] = fill
    for call in (
        lambda: model.log_prob(x),
        lambda: model.fit(x, verbose=0),
        lambda: model.evaluate(x, verbose=0),
        lambda: model.train_on_batch(x),
        lambda: model.fit(np.zeros((4, 3)), validation_data=(x,), verbose=0),
    ):
        with pytest.raises(ValueError, match="finite"):
            call()
    deepar = tiny_deepar()
    history = series(1, 5)[0]
    history[2] = fill
    with pytest.raises(ValueError, match="`history`"):
        deepar.forecast(history, horizon=2)
    with pytest.raises(ValueError, match="`prefix`"):
        deepar.generate(num_samples=2, prefix=history, horizon=2)
    for season in (1, 0, 2.5):
        with pytest.raises((ValueError, TypeError), match="`seasonal_difference`"):
            DeepAR(seasonal_difference=season)


def test_wrong_width_and_dtype_are_refused():
    model = tiny_made()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, 3\)"):
        model.log_prob(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, 3\)"):
        model.fit(np.zeros((2, 2), "float32"), verbose=0)
    with pytest.raises(ValueError, match="real numbers"):
        model.log_prob(np.zeros((2, 3), bool))
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, 10\)"):
        tiny_deepar().log_prob(np.zeros((2, 9), "float32"))
    with pytest.raises(ValueError, match="horizon"):
        tiny_deepar(sequence_length=None).generate(num_samples=1)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="`temperature` must be a finite number > 0"):
            model.log_prob(np.zeros((2, 3), "float32"), temperature=bad)
    with pytest.raises(TypeError, match="`temperature` must be a number"):
        model.conditional_cdf(np.zeros((2, 3), "float32"), temperature="warm")


def test_streamed_non_finite_batch_gets_nan_loss():
    """A compiled step cannot raise on values: the loss is NaN, not finite."""
    import tensorflow as tf

    model = tiny_made()
    model.compile(optimizer="adam")
    x = np.zeros((8, 3), "float32")
    x[5, 0] = np.nan
    data = tf.data.Dataset.from_tensor_slices(x).batch(8)
    if BACKEND == "torch":  # steps run eagerly: the batch's values are checked
        with pytest.raises(ValueError, match="finite"):
            model.evaluate(data, verbose=0)
    else:
        assert np.isnan(model.evaluate(data, verbose=0)[0])


# ----------------------------------------------------------------------
# Export
@pytest.mark.skipif(
    BACKEND == "torch",
    reason="torch cannot write SavedModels (Keras 3.15); test_export covers the CLI",
)
def test_saved_model_export(tmp_path):
    """Each family on one of the two exporting backends (the SavedModel's
    graph is built by the same hooks on both; the test budget is tight):
    MADEMoG from JAX (jax2tf), DeepAR from TensorFlow."""
    import tensorflow as tf

    x_made = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    x_made[4, 1] = np.nan
    if BACKEND == "jax":
        cases = [("made", tiny_made(num_masks=2), x_made, None)]
    else:
        deepar = tiny_deepar(sequence_length=8, ar_order=2)
        deepar.adapt(series())
        cases = [("deepar", deepar, series(5, 8), {"horizon": 8})]
    for name, model, x, kwargs in cases:
        path = str(tmp_path / name)
        model.export(path, verbose=False, generate_kwargs=kwargs)
        served = tf.saved_model.load(path)
        log_p = served.signatures["log_prob"](x=tf.constant(x))["log_prob"].numpy()
        finite = np.isfinite(x).all(1)
        np.testing.assert_allclose(log_p[finite], model.log_prob(x[finite]), atol=1e-4)
        assert np.isnan(log_p[~finite]).all()
        seeds = tf.constant([3, 3, 4], "int32")
        feeds = {"seed": seeds, "temperature": tf.constant(1.0)}
        signature = "generate"
        if name == "deepar":
            signature = "generate_from_prefix"
            feeds["prefix"] = tf.constant(x[[0, 0, 1]])
            feeds["prefix_length"] = tf.constant([5, 5, 0], "int32")
        samples = served.signatures[signature](**feeds)["samples"].numpy()
        assert samples.dtype == np.float32 and np.isfinite(samples).all()
        np.testing.assert_allclose(samples[0], samples[1])  # same seed
        if name == "deepar":
            np.testing.assert_array_equal(samples[0, :5], x[0, :5])


@pytest.mark.skipif(
    BACKEND == "jax",
    reason="JAX without jax2onnx exports through a TensorFlow process: the "
    "TensorFlow run covers that graph",
)
def test_onnx_export(tmp_path):
    import onnxruntime

    for name, model, x in (
        ("made", tiny_made(), np.random.default_rng(0).normal(size=(4, 3))),
        ("deepar", tiny_deepar(sequence_length=8, ar_order=2), series(4, 8)),
    ):
        path = str(tmp_path / f"{name}.onnx")
        model.export(path, format="onnx", verbose=False)
        session = onnxruntime.InferenceSession(path)
        (spec,) = session.get_inputs()
        assert spec.type == "tensor(float)"
        x = np.asarray(x, "float32")
        (got,) = session.run(None, {spec.name: x})
        np.testing.assert_allclose(got, ops.convert_to_numpy(model(x)), atol=1e-4)


def test_tiny_models_are_discrete():
    """The shared export/save tests (tests/tiny_models.py) assume integer
    data; the real-valued families are checked in this file instead."""
    from tests.tiny_models import TINY_MODELS

    assert not {"made_mog", "deep_ar"} & set(TINY_MODELS)
    assert os.path.basename(__file__) == "test_continuous.py"
