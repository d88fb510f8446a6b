"""The masked network that `MADE` and `MADEMoG` share.

Both models are the same masked MLP over D dimensions (Germain et al.,
2015): the same argument checks, orderings, masks and connectivity
re-sampling, the same `MaskedDense` stack, the same ensemble of mask sets
and the same running sums for cached generation. They differ only in how a
dimension's values are encoded, what its P output units mean (categorical
logits, or mixture-of-Gaussians parameters) and how a value is drawn from
them, so `MADENetwork` holds the network and asks the model for those few
pieces through the hooks listed in its docstring.
"""

import keras
import numpy as np
from keras import ops

from keras_ar.backend.constants import activate, constant
from keras_ar.backend.slicing import cast, loop_slice, loop_slice_update, reshape
from keras_ar.layers.masked_dense import MaskedDense
from keras_ar.masks.made import made_masks, resolve_ordering
from keras_ar.validation import check_choice, check_int


class MADENetwork:
    """Mixin of the MADE models (put before their `AutoregressiveModel` base).

    `__init__` takes the arguments the two models share (the others go on
    to the model's base); the model then calls `_build_network` (masks and
    layers) from its own `__init__`, and defines:

    - `_encode(x)`: values `(B, n)` -> input features `(B, n * Q)` (default:
      the values themselves, Q = 1);
    - `_dim_outputs(units)`: output units `(B, n * P)` -> float32 outputs
      `(B, n, ...)` per dimension (default: a reshape);
    - `_member_log_prob(x, outputs)`: log p_k(x_d | x_<d) of one mask set
      from its outputs, for `x (B, n)` and `outputs (B, n, ...)` or for
      `x (B,)` and `outputs (B, ...)`;
    - `_mix_members(outputs, log_weights)`: the ensemble's conditional from
      each mask set's outputs and log p_k(x_<d) (same two layouts);
    - `_sample_dim(outputs, noise, temperature)`: a value `(B,)` from one
      dimension's outputs `(B, ...)` and the step's uniforms;
    - `_training_outputs(outputs)`: optional, what a training call under
      one mask set returns (default: its outputs).
    """

    def __init__(
        self,
        input_dim,
        hidden_units,
        ordering="natural",
        hidden_degrees="random",
        seed=None,
        num_masks=1,
        direct_connection=True,
        activation="relu",
        **kwargs,
    ):
        input_dim = check_int("input_dim", input_dim, minimum=2)
        super().__init__(event_shape=(input_dim,), **kwargs)
        self.input_dim = input_dim
        self._ordering_given = ordering  # resolved by `_build_network`
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

    def _build_network(self, inputs_per_dim, outputs_per_dim):
        """Resolves the ordering, draws the mask sets and makes the layers.

        Q = `inputs_per_dim` input features and P = `outputs_per_dim` output
        units per dimension. The layers' names and order are part of the
        saved files of both models.
        """
        input_dim, ordering = self.input_dim, self._ordering_given
        # The ordering as a permutation, and as given (for the config).
        self.ordering = resolve_ordering(
            input_dim, ordering, np.random.default_rng(self.seed)
        )
        self._ordering_arg = (
            ordering if isinstance(ordering, str) else self.ordering.tolist()
        )
        self.inputs_per_dim = inputs_per_dim
        self.outputs_per_dim = outputs_per_dim
        # Mask set k draws its hidden degrees from the seed sequence
        # (seed, k): a new seed or another k re-samples the connectivity.
        self.masks = [
            made_masks(
                input_dim,
                list(self.hidden_units),
                ordering=self.ordering,
                hidden_degrees_mode=self.hidden_degrees,
                seed=np.random.default_rng([self.seed, k]),
                inputs_per_dim=inputs_per_dim,
                outputs_per_dim=outputs_per_dim,
                direct_connection=self.direct_connection,
            )
            for k in range(self.num_masks)
        ]
        # before[d', d] = 1 where d' comes strictly before d in the ordering.
        m0 = self.masks[0].degrees[0]
        self._before = (m0[:, None] < m0[None, :]).astype("float32")

        policy = self.dtype_policy
        self.hidden_layers = [
            MaskedDense(
                units,
                mask=self._stack([m.hidden[i] for m in self.masks]),
                # The first layer's activation is applied by the model,
                # after a label embedding is added (see `_units`).
                activation=None if i == 0 else self.activation,
                name=f"hidden_{i}",
                dtype=policy,
            )
            for i, units in enumerate(self.hidden_units)
        ]
        out_units = input_dim * outputs_per_dim
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

    def _build_now(self):
        """Builds every weight, so that a `.keras` file loads into a fresh
        instance and summary() works before any data is seen."""
        x = ops.zeros((1, self.input_dim), self.data_dtype)
        labels = ops.zeros((1,), "int32") if self.conditional else None
        self(self.pack_inputs(x, labels))

    @staticmethod
    def _stack(masks):
        return masks[0] if len(masks) == 1 else np.stack(masks)

    def _network_config(self):
        """The config entries of the shared arguments (but `input_dim`)."""
        return {
            "hidden_units": list(self.hidden_units),
            "ordering": self._ordering_arg,
            "hidden_degrees": self.hidden_degrees,
            "seed": self.seed,
            "num_masks": self.num_masks,
            "direct_connection": self.direct_connection,
            "activation": keras.activations.serialize(self.activation),
        }

    # -- hooks with a default ----------------------------------------------
    def _encode(self, x):
        return cast(x, self.compute_dtype)

    def _dim_outputs(self, units):
        units = cast(units, "float32")
        return reshape(units, (ops.shape(units)[0], -1, self.outputs_per_dim))

    def _training_outputs(self, outputs):
        return outputs

    # -- the forward pass ----------------------------------------------------
    def _check_x(self, x):
        shape = tuple(x.shape)
        if len(shape) != 2 or (shape[1] is not None and shape[1] != self.input_dim):
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (batch, "
                f"{self.input_dim}) (input_dim={self.input_dim}), got {shape}"
            )

    def _units(self, x, labels, mask_index):
        """The output units `(B, D * P)` under mask set `mask_index`."""
        features = self._encode(x)
        pre = self.hidden_layers[0](features, mask_index=mask_index)
        if labels is not None:
            pre = pre + self.label_hidden(labels)
        h = self.activation(pre)
        for layer in self.hidden_layers[1:]:
            h = layer(h, mask_index=mask_index)
        out = self.output_layer(h, mask_index=mask_index)
        if self.direct_layer is not None:
            out = out + self.direct_layer(features)
        if labels is not None:
            out = out + self.label_output(labels)
        return out

    def call(self, inputs, training=False):
        x, labels = self.unpack_inputs(inputs)
        self._check_x(x)
        if self.num_masks == 1:
            return self._dim_outputs(self._units(x, labels, None))
        if training:
            # Connectivity-agnostic training: one mask set per step, in turn.
            k = ops.convert_to_tensor(self.mask_step.value)
            self.mask_step.assign((k + 1) % self.num_masks)
            return self._training_outputs(self._dim_outputs(self._units(x, labels, k)))
        # The ensemble p(x) = (1/M) sum_k p_k(x): its conditional weighs each
        # mask set's p_k(x_d | x_<d) by p_k(x_<d).
        before = constant(self, "before", self._before, "float32")
        members, log_weights = [], []
        for k in range(self.num_masks):
            outputs = self._dim_outputs(self._units(x, labels, k))
            observed = self._member_log_prob(x, outputs)  # (B, D)
            members.append(outputs)
            log_weights.append(ops.matmul(observed, before))  # log p_k(x_<d)
        return self._mix_members(members, log_weights)

    # -- generation ------------------------------------------------------
    def _generation_setup(self, num_samples):
        x0 = np.zeros((num_samples, self.input_dim), self.data_dtype)
        return x0, 0, self.input_dim

    def _generation_state(self, x0, labels, use_cache):
        state = super()._generation_state(x0, labels, use_cache)
        if not use_cache:
            return state
        batch = ops.shape(state["x"])[0]
        first = self.hidden_layers[0]
        # Running first-layer pre-activation: the bias (and label) plus the
        # contributions of the dimensions drawn so far (none yet).
        pre = ops.broadcast_to(
            ops.cast(first.bias, self.compute_dtype), (batch, first.units)
        )
        if labels is not None:
            pre = pre + self.label_hidden(state["labels"])
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
        labels = state.get("labels")
        # Made in the eager steps too, so that a compiled step finds it.
        ordering = constant(self, "ordering", self.ordering, "int32")
        if isinstance(i, int):  # an eager loop: the dimension as an int
            d = int(self.ordering[i])
        else:
            d = ops.take(ordering, i)
        if use_cache:
            outputs, members = self._cached_outputs(state, d)
        else:
            outputs = self(self.pack_inputs(x, labels), training=False)
            outputs = ops.take(outputs, d, axis=1)
        value = self._sample_dim(outputs, noise_i, temperature)
        x = loop_slice_update(x, [0, d], ops.expand_dims(value, -1))
        state = {**state, "x": x}
        if use_cache:
            state["cache"] = self._cache_written(state["cache"], value, d, members)
        return state

    def _cached_outputs(self, state, d):
        """Dimension d's outputs `(B, ...)` from the running sums, and each
        mask set's (None for a single one), for `_cache_written`."""
        cache = state["cache"]
        labels = state.get("labels")
        p = self.outputs_per_dim
        batch = ops.shape(state["x"])[0]
        extra = None
        if self.direct_layer is not None:
            extra = loop_slice(cache["direct"], [0, d * p], [batch, p])
        if labels is not None:
            label_out = loop_slice(self.label_output(labels), [0, d * p], [batch, p])
            extra = label_out if extra is None else extra + label_out
        members = []
        for k in range(self.num_masks):
            k_index = None if self.num_masks == 1 else k
            h = activate(self.activation, cache["pre"][k])
            for layer in self.hidden_layers[1:]:
                h = layer(h, mask_index=k_index)
            out = self.output_layer.call_columns(h, d * p, p, mask_index=k_index)
            if extra is not None:
                out = out + ops.cast(extra, out.dtype)
            members.append(self._dim_outputs(out)[:, 0])
        if self.num_masks == 1:
            return members[0], None
        return self._mix_members(members, cache["log_p"]), members

    def _cache_written(self, cache, value, d, members):
        """Adds the contribution of dimension d, now drawn, to the sums."""
        q = self.inputs_per_dim
        features = self._encode(ops.expand_dims(value, -1))  # (B, Q)
        first = self.hidden_layers[0]
        pre = [
            cache["pre"][k]
            + first.call_rows(
                features, d * q, mask_index=None if self.num_masks == 1 else k
            )
            for k in range(self.num_masks)
        ]
        cache = {**cache, "pre": pre}
        if self.direct_layer is not None:
            cache["direct"] = cache["direct"] + self.direct_layer.call_rows(
                features, d * q
            )
        if members is not None:
            cache["log_p"] = [
                prefix + self._member_log_prob(value, outputs)
                for prefix, outputs in zip(cache["log_p"], members)
            ]
        return cache
