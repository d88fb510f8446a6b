"""MADE (Germain et al., 2015, "MADE: Masked Autoencoder for Distribution
Estimation")."""

import keras
import numpy as np
from keras import ops

from keras_ar.backend.constants import constant
from keras_ar.backend.slicing import loop_slice, loop_slice_update
from keras_ar.layers.masked_dense import MaskedDense
from keras_ar.masks.made import made_masks, resolve_ordering
from keras_ar.models.base import AutoregressiveModel
from keras_ar.ops import categorical_log_prob, sample_categorical
from keras_ar.validation import check_choice, check_int


@keras.saving.register_keras_serializable(package="keras_ar")
class MADE(AutoregressiveModel):
    """Masked autoencoder for distribution estimation over D discrete values.

    An MLP whose weight matrices are multiplied by binary masks so that the
    output for dimension d depends only on the dimensions before d in an
    ordering: one forward pass gives every conditional p(x_d | x_<d), and
    p(x) = prod_d p(x_d | x_<d) is normalized by construction. Masks come
    from degrees (`keras_ar.masks.made`): input d has degree m^0(d), its
    1-based position in the ordering; hidden unit k of layer l has a degree
    m^l(k) in [min m^{l-1}, D - 1]; a hidden unit reads units of degree <= its
    own and output d reads hidden units of degree < m^0(d).

    Each dimension is a categorical over `levels` values: `call` returns
    logits `(B, D, levels)`. With `levels=2` (binarized data, the paper's
    setting) the network has one output per dimension, a Bernoulli logit a,
    returned as the two logits `(0, a)`; with more levels it has `levels`
    outputs per dimension, each with its dimension's output-mask column.
    Inputs are one-hot encoded (`input_encoding="one_hot"`, the default for
    `levels > 2`) or fed as the value scaled to [0, 1] (`"scaled"`, the
    default for `levels=2`, where it is the bit itself).

    Connectivity-agnostic training (paper section 3.4): with `num_masks > 1`
    the model holds that many mask sets over one set of weights (the
    hidden degrees re-drawn, the ordering shared). Each training call uses
    the next mask set in turn (a non-trainable step counter cycles through
    them), and at inference the model is the ensemble
    p(x) = (1/K) sum_k p_k(x). `call` then returns the ensemble's own
    conditionals, p(x_d = v | x_<d) proportional to
    sum_k p_k(x_<d) p_k(x_d = v | x_<d), which still depend on x_<d only, so
    `log_prob`, the loss and `generate` all use the exact ensemble.

    Generation follows the ordering, one dimension per step (D steps); step
    i draws dimension `ordering[i]`. `use_cache=False` runs the full network
    every step. `use_cache=True` keeps, per mask set, the first hidden
    layer's pre-activation (and the direct connection's output) as a running
    sum over the dimensions drawn so far, and adds only the new dimension's
    kernel rows after each draw (O(levels * H) instead of O(D * levels * H));
    the later hidden layers run in full, and the output layer computes only
    the columns of the dimension being drawn. Dimensions not yet drawn are
    left out of the running sums; they could only reach hidden units that
    the masks keep away from the outputs still to be read, so both paths
    give the same conditionals and, for the same seed, the same samples.

    Args:
        input_dim: D, the number of dimensions (>= 2).
        levels: values per dimension (>= 2).
        hidden_units: sizes of the hidden layers (one or more).
        ordering: "natural" (0..D-1), "random" (drawn from `seed`) or a
            permutation of 0..D-1: `ordering[i]` is the i-th dimension.
        hidden_degrees: "random" (the paper; re-drawn with `seed`) or
            "equal" (evenly spaced, deterministic).
        seed: int seed for the random ordering and the hidden degrees
            (None: one is drawn and kept in the config, so a saved model
            reloads with the same masks).
        num_masks: mask sets for connectivity-agnostic training (>= 1).
        direct_connection: add the masked direct input -> output layer
            (paper section 4), which connects every output to all its past.
        activation: activation of the hidden layers.
        input_encoding: "one_hot", "scaled" or None (see above).
        num_classes: for a class-conditional model, the number of classes;
            the label's embedding is added to the first hidden layer's
            pre-activation and to the output logits (a label is visible to
            every dimension, like an input of degree 0).
        **kwargs: `keras.Model` arguments (name, dtype).

    Example:

    >>> import numpy as np
    >>> model = MADE(input_dim=6, hidden_units=(16, 16), seed=0)
    >>> model.compile(optimizer="adam")
    >>> x = np.random.randint(0, 2, size=(32, 6))
    >>> _ = model.fit(x, epochs=1, verbose=0)
    >>> model.log_prob(x).shape
    (32,)
    >>> model.generate(num_samples=3, seed=0).shape
    (3, 6)
    """

    def __init__(
        self,
        input_dim,
        levels=2,
        hidden_units=(500,),
        ordering="natural",
        hidden_degrees="random",
        seed=None,
        num_masks=1,
        direct_connection=True,
        activation="relu",
        input_encoding=None,
        num_classes=None,
        **kwargs,
    ):
        input_dim = check_int("input_dim", input_dim, minimum=2)
        super().__init__(
            levels=levels,
            event_shape=(input_dim,),
            num_classes=num_classes,
            **kwargs,
        )
        self.input_dim = input_dim
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
        if input_encoding is None:
            input_encoding = "scaled" if self.levels == 2 else "one_hot"
        self.input_encoding = check_choice(
            "input_encoding", input_encoding, ("one_hot", "scaled")
        )
        # The ordering as a permutation, and as given (for the config).
        self.ordering = resolve_ordering(
            input_dim, ordering, np.random.default_rng(self.seed)
        )
        self._ordering_arg = (
            ordering if isinstance(ordering, str) else self.ordering.tolist()
        )

        # Q input features and P output units per dimension.
        self.inputs_per_dim = self.levels if self.input_encoding == "one_hot" else 1
        self.outputs_per_dim = 1 if self.levels == 2 else self.levels
        # Mask set k draws its hidden degrees from the seed sequence
        # (seed, k): a new seed or another k re-samples the connectivity.
        self.masks = [
            made_masks(
                input_dim,
                list(self.hidden_units),
                ordering=self.ordering,
                hidden_degrees_mode=self.hidden_degrees,
                seed=np.random.default_rng([self.seed, k]),
                inputs_per_dim=self.inputs_per_dim,
                outputs_per_dim=self.outputs_per_dim,
                direct_connection=self.direct_connection,
            )
            for k in range(self.num_masks)
        ]
        # before[d', d] = 1 where d' comes strictly before d in the ordering.
        m0 = self.masks[0].degrees[0]
        self._before = (m0[:, None] < m0[None, :]).astype("float32")

        policy = self.dtype_policy
        self.hidden_layers = []
        for i, units in enumerate(self.hidden_units):
            self.hidden_layers.append(
                MaskedDense(
                    units,
                    mask=self._stack([m.hidden[i] for m in self.masks]),
                    # The first layer's activation is applied by the model,
                    # after the label embedding is added.
                    activation=None if i == 0 else self.activation,
                    name=f"hidden_{i}",
                    dtype=policy,
                )
            )
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
        if self.conditional:
            self.label_hidden = keras.layers.Embedding(
                self.num_classes,
                self.hidden_units[0],
                name="label_hidden",
                dtype=policy,
            )
            self.label_output = keras.layers.Embedding(
                self.num_classes, out_units, name="label_output", dtype=policy
            )
        if self.num_masks > 1:
            self.mask_step = self.add_weight(
                shape=(),
                dtype="int32",
                initializer="zeros",
                trainable=False,
                name="mask_step",
            )
        # Build every weight now, so that a `.keras` file loads into a fresh
        # instance and summary() works before any data is seen.
        x = ops.zeros((1, input_dim), "int32")
        labels = ops.zeros((1,), "int32") if self.conditional else None
        self(self.pack_inputs(x, labels))

    @staticmethod
    def _stack(masks):
        return masks[0] if len(masks) == 1 else np.stack(masks)

    # ------------------------------------------------------------------
    def _encode(self, x):
        """int `(B, n)` -> the network's input features `(B, n * Q)`."""
        if self.input_encoding == "one_hot":
            one_hot = ops.one_hot(
                ops.cast(x, "int32"), self.levels, dtype=self.compute_dtype
            )
            return ops.reshape(one_hot, (ops.shape(x)[0], -1))
        return ops.cast(x, self.compute_dtype) / float(self.levels - 1)

    def _to_logits(self, outputs):
        """Output units `(B, n * P)` -> logits `(B, n, levels)` float32."""
        outputs = ops.cast(outputs, "float32")
        outputs = ops.reshape(
            outputs, (ops.shape(outputs)[0], -1, self.outputs_per_dim)
        )
        if self.levels == 2:
            # One Bernoulli logit a per dimension: softmax((0, a)) = (1 - s, s).
            outputs = ops.concatenate([ops.zeros_like(outputs), outputs], axis=-1)
        return outputs

    def _check_x(self, x):
        shape = tuple(x.shape)
        if len(shape) != 2 or (shape[1] is not None and shape[1] != self.input_dim):
            raise ValueError(
                f"MADE expects inputs of shape (batch, {self.input_dim}) "
                f"(input_dim={self.input_dim}), got {shape}"
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
            return self._to_logits(self._units(x, labels, None))
        if training:
            # Connectivity-agnostic training: one mask set per step, in turn.
            k = ops.convert_to_tensor(self.mask_step.value)
            self.mask_step.assign((k + 1) % self.num_masks)
            return self._to_logits(self._units(x, labels, k))
        # The ensemble's conditionals: log p(x_d = v | x_<d) =
        # logsumexp_k[log p_k(x_<d) + log p_k(x_d = v | x_<d)] + const.
        one_hot = ops.one_hot(ops.cast(x, "int32"), self.levels, dtype="float32")
        before = constant(self, "before", self._before, "float32")
        terms = []
        for k in range(self.num_masks):
            log_p = ops.log_softmax(self._to_logits(self._units(x, labels, k)), axis=-1)
            observed = ops.sum(log_p * one_hot, axis=-1)  # (B, D)
            prefix = ops.matmul(observed, before)  # log p_k(x_<d), (B, D)
            terms.append(ops.expand_dims(prefix, -1) + log_p)
        return ops.logsumexp(ops.stack(terms), axis=0)

    def element_log_probs(self, x, outputs):
        return categorical_log_prob(outputs, x)  # (B, D)

    # -- generation ------------------------------------------------------
    def _generation_setup(self, num_samples):
        x0 = np.zeros((num_samples, self.input_dim), "int32")
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
        ordering = constant(self, "ordering", self.ordering, "int32")
        d = ops.take(ordering, i)
        if use_cache:
            logits, component_log_p = self._cached_logits(state, d)
        else:
            outputs = self(self.pack_inputs(x, labels), training=False)
            logits = ops.take(outputs, d, axis=1)
        value = sample_categorical(logits, noise_i[:, 0], temperature)
        value = ops.cast(value, "int32")
        x = loop_slice_update(x, [0, d], ops.expand_dims(value, -1))
        state = {**state, "x": x}
        if use_cache:
            state["cache"] = self._cache_written(
                state["cache"], value, d, component_log_p
            )
        return state

    def _cached_logits(self, state, d):
        """Logits `(B, levels)` of dimension d from the running sums."""
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
        component_logits = []
        for k in range(self.num_masks):
            k_index = None if self.num_masks == 1 else k
            h = self.activation(cache["pre"][k])
            for layer in self.hidden_layers[1:]:
                h = layer(h, mask_index=k_index)
            out = self.output_layer.call_columns(h, d * p, p, mask_index=k_index)
            if extra is not None:
                out = out + ops.cast(extra, out.dtype)
            component_logits.append(self._to_logits(out)[:, 0])
        if self.num_masks == 1:
            return component_logits[0], None
        log_ps = [ops.log_softmax(c, axis=-1) for c in component_logits]
        terms = [
            ops.expand_dims(prefix, -1) + lp
            for prefix, lp in zip(cache["log_p"], log_ps)
        ]
        return ops.logsumexp(ops.stack(terms), axis=0), log_ps

    def _cache_written(self, cache, value, d, component_log_p):
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
        if component_log_p is not None:
            one_hot = ops.one_hot(value, self.levels, dtype="float32")
            cache["log_p"] = [
                prefix + ops.sum(lp * one_hot, axis=-1)
                for prefix, lp in zip(cache["log_p"], component_log_p)
            ]
        return cache

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "levels": self.levels,
                "hidden_units": list(self.hidden_units),
                "ordering": self._ordering_arg,
                "hidden_degrees": self.hidden_degrees,
                "seed": self.seed,
                "num_masks": self.num_masks,
                "direct_connection": self.direct_connection,
                "activation": keras.activations.serialize(self.activation),
                "input_encoding": self.input_encoding,
                "num_classes": self.num_classes,
            }
        )
        return config
