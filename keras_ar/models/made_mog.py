"""MADE with mixture-of-Gaussians conditionals (MADE MoG, as in
Papamakarios et al., 2017, "Masked Autoregressive Flow for Density
Estimation"): a density estimator for real-valued vectors."""

import keras
import numpy as np
from keras import ops

from keras_ar.backend.constants import constant
from keras_ar.backend.slicing import loop_slice, loop_slice_update
from keras_ar.layers.masked_dense import MaskedDense
from keras_ar.masks.made import made_masks, resolve_ordering
from keras_ar.models.continuous_model import ContinuousAutoregressiveModel
from keras_ar.ops import mixture_of_gaussians as mog
from keras_ar.validation import check_choice, check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class MADEMoG(ContinuousAutoregressiveModel):
    """MADE over D real values, one mixture of Gaussians per dimension.

    The masked MLP of `keras_ar.models.MADE` (same degrees and masks from
    `keras_ar.masks.made`, same `MaskedDense` layers, same orderings and
    connectivity re-sampling), fed the real values themselves (one input
    feature per dimension) and emitting, for dimension d, the parameters
    `[logits | means | log_scales]` (3K numbers) of a mixture of K Gaussians
    p(x_d | x_<d) (`keras_ar.ops.mixture_of_gaussians`: log-sum-exp over
    components, log-scales clamped to `[min_log_scale, max_log_scale]`).
    `call` returns the parameters `(B, D, 3K)`; `log_prob` is a log-density
    in nats. Feed it standardized data (zero mean, unit variance per
    dimension): the clamp of the log-scales is in the data's units.

    Connectivity-agnostic training (`num_masks > 1`): each training call
    uses the next mask set; at inference the model is the ensemble
    p(x) = (1/M) sum_m p_m(x), whose conditional p(x_d | x_<d) is itself a
    mixture of the M members' mixtures weighted by p_m(x_<d). `call` then
    returns that exact conditional as one mixture of `K * M` components
    `(B, D, 3KM)`, so the loss, `log_prob` and `generate` all use the
    ensemble.

    Generation follows the ordering, one dimension per step, drawing each
    value from two uniforms (component, Gaussian quantile). `use_cache=True`
    keeps the first hidden layer's pre-activation (and the direct
    connection's output) as running sums over the dimensions drawn so far
    and computes only the columns of the dimension being drawn, as the
    discrete MADE does; `use_cache=False` runs the whole network each step.
    The same seed gives the same samples on both paths (to float rounding).

    Args:
        input_dim: D, the number of dimensions (>= 2).
        num_components: K, Gaussians per dimension (>= 1).
        hidden_units: sizes of the hidden layers (one or more).
        ordering: "natural", "random" (drawn from `seed`) or a permutation.
        hidden_degrees: "random" or "equal" (see `keras_ar.masks.made`).
        seed: int seed for the ordering and the hidden degrees (None: one is
            drawn and kept in the config).
        num_masks: mask sets for connectivity-agnostic training (>= 1).
        direct_connection: add the masked direct input -> output layer.
        activation: activation of the hidden layers.
        min_log_scale, max_log_scale: the clamp of the log-scales.
        **kwargs: `keras.Model` arguments (name, dtype).

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    >>> x[:, 1] += x[:, 0] ** 2
    >>> model = MADEMoG(input_dim=3, num_components=2, hidden_units=(16,), seed=0)
    >>> model.compile(optimizer="adam")
    >>> _ = model.fit(x, epochs=1, verbose=0)
    >>> model.log_prob(x).shape
    (64,)
    >>> model.generate(num_samples=4, seed=0).shape
    (4, 3)
    """

    def __init__(
        self,
        input_dim,
        num_components=5,
        hidden_units=(256,),
        ordering="natural",
        hidden_degrees="random",
        seed=None,
        num_masks=1,
        direct_connection=True,
        activation="relu",
        min_log_scale=mog.MIN_LOG_SCALE,
        max_log_scale=mog.MAX_LOG_SCALE,
        **kwargs,
    ):
        input_dim = check_int("input_dim", input_dim, minimum=2)
        super().__init__(event_shape=(input_dim,), **kwargs)
        self.input_dim = input_dim
        self.num_components = check_int("num_components", num_components, minimum=1)
        if isinstance(hidden_units, (int, np.integer)) and not isinstance(
            hidden_units, bool
        ):
            hidden_units = (hidden_units,)
        if not isinstance(hidden_units, (list, tuple)) or not hidden_units:
            raise ValueError(
                "`hidden_units` must be a non-empty list of hidden layer sizes, "
                f"got {hidden_units!r}"
            )
        self.hidden_units = tuple(
            check_int("hidden_units", u, minimum=1) for u in hidden_units
        )
        self.hidden_degrees = check_choice(
            "hidden_degrees", hidden_degrees, ("random", "equal")
        )
        self.num_masks = check_int("num_masks", num_masks, minimum=1)
        if self.num_masks > 1 and self.hidden_degrees == "equal":
            raise ValueError(
                "`num_masks` > 1 needs hidden_degrees='random': 'equal' degrees "
                "give the same mask set every time"
            )
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        self.seed = check_int("seed", seed, minimum=0)
        if not isinstance(direct_connection, (bool, np.bool_)):
            raise TypeError(
                f"`direct_connection` must be a bool, got {direct_connection!r}"
            )
        self.direct_connection = bool(direct_connection)
        self.activation = keras.activations.get(activation)
        for name, value in (
            ("min_log_scale", min_log_scale),
            ("max_log_scale", max_log_scale),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"`{name}` must be a number, got {value!r}")
        if not min_log_scale < max_log_scale:
            raise ValueError(
                "`min_log_scale` must be below `max_log_scale`, got "
                f"{min_log_scale} and {max_log_scale}"
            )
        self.min_log_scale = float(min_log_scale)
        self.max_log_scale = float(max_log_scale)
        self.ordering = resolve_ordering(
            input_dim, ordering, np.random.default_rng(self.seed)
        )
        self._ordering_arg = (
            ordering if isinstance(ordering, str) else self.ordering.tolist()
        )
        self.outputs_per_dim = mog.num_params(self.num_components)
        self.masks = [
            made_masks(
                input_dim,
                list(self.hidden_units),
                ordering=self.ordering,
                hidden_degrees_mode=self.hidden_degrees,
                seed=np.random.default_rng([self.seed, k]),
                inputs_per_dim=1,
                outputs_per_dim=self.outputs_per_dim,
                direct_connection=self.direct_connection,
            )
            for k in range(self.num_masks)
        ]
        m0 = self.masks[0].degrees[0]
        self._before = (m0[:, None] < m0[None, :]).astype("float32")

        policy = self.dtype_policy
        self.hidden_layers = [
            MaskedDense(
                units,
                mask=self._stack([m.hidden[i] for m in self.masks]),
                activation=self.activation,
                name=f"hidden_{i}",
                dtype=policy,
            )
            for i, units in enumerate(self.hidden_units)
        ]
        out_units = input_dim * self.outputs_per_dim
        self.output_layer = MaskedDense(
            out_units,
            mask=self._stack([m.output for m in self.masks]),
            name="output",
            dtype=policy,
        )
        self.direct_layer = (
            MaskedDense(
                out_units,
                mask=self.masks[0].direct,
                use_bias=False,
                name="direct",
                dtype=policy,
            )
            if self.direct_connection
            else None
        )
        if self.num_masks > 1:
            self.mask_step = self.add_weight(
                shape=(),
                dtype="int32",
                initializer="zeros",
                trainable=False,
                name="mask_step",
            )
        self(ops.zeros((1, input_dim), "float32"))

    @staticmethod
    def _stack(masks):
        return masks[0] if len(masks) == 1 else np.stack(masks)

    @property
    def total_components(self):
        """Components of the mixture `call` returns: K times the mask sets."""
        return self.num_components * self.num_masks

    def _clamp(self):
        return dict(min_log_scale=self.min_log_scale, max_log_scale=self.max_log_scale)

    # ------------------------------------------------------------------
    def _to_params(self, outputs):
        """Output units `(B, n * 3K)` -> float32 `(B, n, 3K)`."""
        outputs = ops.cast(outputs, "float32")
        return ops.reshape(outputs, (ops.shape(outputs)[0], -1, self.outputs_per_dim))

    def _units(self, x, mask_index):
        """The output units `(B, D * 3K)` under mask set `mask_index`."""
        features = ops.cast(x, self.compute_dtype)
        h = features
        for layer in self.hidden_layers:
            h = layer(h, mask_index=mask_index)
        out = self.output_layer(h, mask_index=mask_index)
        if self.direct_layer is not None:
            out = out + self.direct_layer(features)
        return out

    def call(self, inputs, training=False):
        x, _ = self.unpack_inputs(inputs)
        shape = tuple(x.shape)
        if len(shape) != 2 or (shape[1] is not None and shape[1] != self.input_dim):
            raise ValueError(
                f"MADEMoG expects inputs of shape (batch, {self.input_dim}) "
                f"(input_dim={self.input_dim}), got {shape}"
            )
        if self.num_masks == 1:
            return self._to_params(self._units(x, None))
        if training:
            k = ops.convert_to_tensor(self.mask_step.value)
            self.mask_step.assign((k + 1) % self.num_masks)
            params = self._to_params(self._units(x, k))
            # The same layout as the ensemble's: the other members' slots
            # get weight zero (logit -1e9, exp underflows to 0).
            return self._pad_members(params)
        before = constant(self, "before", self._before, "float32")
        members = []
        for k in range(self.num_masks):
            params = self._to_params(self._units(x, k))
            observed = mog.gaussian_mixture_log_prob(
                x, params, self.num_components, **self._clamp()
            )  # (B, D)
            prefix = ops.matmul(observed, before)  # log p_k(x_<d), (B, D)
            members.append((params, prefix))
        return self._merge(members)

    def _merge(self, members):
        """One mixture of K*M components from M (params, log_weight) pairs."""
        k = self.num_components
        logits, means, log_scales = [], [], []
        for params, log_weight in members:
            logits.append(
                ops.log_softmax(params[..., :k], axis=-1)
                + ops.expand_dims(log_weight, -1)
            )
            means.append(params[..., k : 2 * k])
            log_scales.append(params[..., 2 * k :])
        return ops.concatenate(
            [ops.concatenate(p, axis=-1) for p in (logits, means, log_scales)], axis=-1
        )

    def _pad_members(self, params):
        k = self.num_components
        pad = self.total_components - k
        head = params[..., :k]
        fill = ops.full(ops.shape(head)[:-1] + (pad,), -1e9, "float32")
        zeros = ops.zeros_like(fill)
        return ops.concatenate(
            [head, fill, params[..., k : 2 * k], zeros, params[..., 2 * k :], zeros],
            axis=-1,
        )

    def log_prob_and_dims(self, x, outputs):
        log_p = mog.gaussian_mixture_log_prob(
            x, outputs, self.total_components, **self._clamp()
        )
        log_prob = ops.sum(log_p, axis=-1)
        dims = ops.ones_like(log_prob) * float(self.input_dim)
        return log_prob, dims

    def conditional_cdf(self, x):
        """P(X_d <= x_d | x_<d) for every d: float32 NumPy `(N, D)`.

        Uniform on [0, 1] under the model for samples of the model (the
        probability integral transform), which is how the tests check that
        samples follow the density, one conditional at a time.
        """
        x = self.validate_x(x)
        params = self(x, training=False)
        return ops.convert_to_numpy(
            mog.gaussian_mixture_cdf(x, params, self.total_components, **self._clamp())
        )

    # -- generation ------------------------------------------------------
    def _generation_setup(self, num_samples):
        x0 = np.zeros((num_samples, self.input_dim), "float32")
        return x0, 0, self.input_dim

    def _generation_state(self, x0, labels, use_cache):
        state = super()._generation_state(x0, labels, use_cache)
        if not use_cache:
            return state
        batch = ops.shape(state["x"])[0]
        first = self.hidden_layers[0]
        pre = ops.broadcast_to(
            ops.cast(first.bias, self.compute_dtype), (batch, first.units)
        )
        cache = {"pre": [pre for _ in range(self.num_masks)]}
        if self.direct_layer is not None:
            cache["direct"] = ops.zeros(
                (batch, self.direct_layer.units), self.compute_dtype
            )
        if self.num_masks > 1:
            cache["log_p"] = [
                ops.zeros((batch,), "float32") for _ in range(self.num_masks)
            ]
        state["cache"] = cache
        return state

    def _generation_step(self, i, state, noise_i, temperature, use_cache):
        x = state["x"]
        ordering = constant(self, "ordering", self.ordering, "int32")
        d = ops.take(ordering, i)
        members = None
        if use_cache:
            params, members = self._cached_params(state, d)
        else:
            outputs = self(x, training=False)
            params = ops.take(outputs, d, axis=1)
        value = mog.sample_gaussian_mixture(
            params, noise_i, self.total_components, temperature, **self._clamp()
        )
        x = loop_slice_update(x, [0, d], ops.expand_dims(value, -1))
        state = {**state, "x": x}
        if use_cache:
            state["cache"] = self._cache_written(state["cache"], value, d, members)
        return state

    def _cached_params(self, state, d):
        """Parameters `(B, 3KM)` of dimension d from the running sums."""
        cache = state["cache"]
        p = self.outputs_per_dim
        batch = ops.shape(state["x"])[0]
        direct = None
        if self.direct_layer is not None:
            direct = loop_slice(cache["direct"], [0, d * p], [batch, p])
        member_params = []
        for k in range(self.num_masks):
            k_index = None if self.num_masks == 1 else k
            h = self.hidden_layers[0].activation(cache["pre"][k])
            for layer in self.hidden_layers[1:]:
                h = layer(h, mask_index=k_index)
            out = self.output_layer.call_columns(h, d * p, p, mask_index=k_index)
            if direct is not None:
                out = out + ops.cast(direct, out.dtype)
            member_params.append(self._to_params(out)[:, 0])
        if self.num_masks == 1:
            return member_params[0], None
        merged = self._merge(list(zip(member_params, cache["log_p"])))
        return merged, member_params

    def _cache_written(self, cache, value, d, member_params):
        """Adds the contribution of dimension d, now drawn, to the sums."""
        features = ops.expand_dims(ops.cast(value, self.compute_dtype), -1)
        first = self.hidden_layers[0]
        pre = [
            cache["pre"][k]
            + first.call_rows(
                features, d, mask_index=None if self.num_masks == 1 else k
            )
            for k in range(self.num_masks)
        ]
        cache = {**cache, "pre": pre}
        if self.direct_layer is not None:
            cache["direct"] = cache["direct"] + self.direct_layer.call_rows(features, d)
        if member_params is not None:
            cache["log_p"] = [
                prefix
                + mog.gaussian_mixture_log_prob(
                    value, params, self.num_components, **self._clamp()
                )
                for prefix, params in zip(cache["log_p"], member_params)
            ]
        return cache

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "num_components": self.num_components,
                "hidden_units": list(self.hidden_units),
                "ordering": self._ordering_arg,
                "hidden_degrees": self.hidden_degrees,
                "seed": self.seed,
                "num_masks": self.num_masks,
                "direct_connection": self.direct_connection,
                "activation": keras.activations.serialize(self.activation),
                "min_log_scale": self.min_log_scale,
                "max_log_scale": self.max_log_scale,
            }
        )
        return config
