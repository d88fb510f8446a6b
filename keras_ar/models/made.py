"""MADE (Germain et al., 2015, "MADE: Masked Autoencoder for Distribution
Estimation")."""

import keras
from keras import ops

from keras_ar._signatures import shows_arguments_of
from keras_ar.backend.slicing import cast, concatenate
from keras_ar.models._made_common import MADENetwork
from keras_ar.models.base import AutoregressiveModel
from keras_ar.ops import categorical_log_prob, sample_categorical
from keras_ar.validation import check_choice


@keras.saving.register_keras_serializable(package="keras_ar")
@shows_arguments_of(MADENetwork.__init__)
class MADE(MADENetwork, AutoregressiveModel):
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

    Example (every family shares `PixelCNN`'s compile / fit / generate
    workflow; here the ensemble of mask sets, a distribution over all 2^3
    binary vectors):

    >>> import itertools
    >>> import numpy as np
    >>> model = MADE(input_dim=3, hidden_units=(8,), ordering="random",
    ...              num_masks=2, seed=0)
    >>> every_x = np.array(list(itertools.product([0, 1], repeat=3)))
    >>> round(float(np.exp(model.log_prob(every_x)).sum()), 4)
    1.0
    >>> model.generate(num_samples=3, seed=0).shape
    (3, 3)
    """

    def __init__(
        self,
        input_dim,
        levels=2,
        hidden_units=(500,),
        *,
        input_encoding=None,
        num_classes=None,
        **kwargs,
    ):
        # `ordering`, `hidden_degrees`, `seed`, `num_masks`,
        # `direct_connection` and `activation` are `MADENetwork`'s.
        super().__init__(
            input_dim, hidden_units, levels=levels, num_classes=num_classes, **kwargs
        )
        if input_encoding is None:
            input_encoding = "scaled" if self.levels == 2 else "one_hot"
        self.input_encoding = check_choice(
            "input_encoding", input_encoding, ("one_hot", "scaled")
        )
        # Q input features and P output units per dimension.
        self._build_network(
            inputs_per_dim=self.levels if self.input_encoding == "one_hot" else 1,
            outputs_per_dim=1 if self.levels == 2 else self.levels,
        )
        if self.conditional:
            policy = self.dtype_policy
            self.label_hidden = keras.layers.Embedding(
                self.num_classes,
                self.hidden_units[0],
                name="label_hidden",
                dtype=policy,
            )
            self.label_output = keras.layers.Embedding(
                self.num_classes,
                self.output_layer.units,
                name="label_output",
                dtype=policy,
            )
        self._build_now()

    # -- the hooks of `MADENetwork` ----------------------------------------
    def _encode(self, x):
        """int `(B, n)` -> the network's input features `(B, n * Q)`."""
        if self.input_encoding == "one_hot":
            one_hot = ops.one_hot(
                ops.cast(x, "int32"), self.levels, dtype=self.compute_dtype
            )
            return ops.reshape(one_hot, (ops.shape(x)[0], -1))
        return cast(x, self.compute_dtype) / float(self.levels - 1)

    def _dim_outputs(self, units):
        """Output units `(B, n * P)` -> logits `(B, n, levels)` float32."""
        outputs = super()._dim_outputs(units)
        if self.levels == 2:
            # One Bernoulli logit a per dimension: softmax((0, a)) = (1 - s, s).
            outputs = concatenate([ops.zeros_like(outputs), outputs], axis=-1)
        return outputs

    def _member_log_prob(self, x, logits):
        one_hot = ops.one_hot(ops.cast(x, "int32"), self.levels, dtype="float32")
        return ops.sum(ops.log_softmax(logits, axis=-1) * one_hot, axis=-1)

    def _mix_members(self, logits, log_weights):
        # log p(x_d = v | x_<d) =
        # logsumexp_k[log p_k(x_<d) + log p_k(x_d = v | x_<d)] + const.
        terms = [
            ops.expand_dims(log_weight, -1) + ops.log_softmax(member, axis=-1)
            for member, log_weight in zip(logits, log_weights)
        ]
        return ops.logsumexp(ops.stack(terms), axis=0)

    def _sample_dim(self, logits, noise, temperature):
        value = sample_categorical(logits, noise[:, 0], temperature)
        return ops.cast(value, "int32")

    def element_log_probs(self, x, outputs):
        return categorical_log_prob(outputs, x)  # (B, D)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "levels": self.levels,
                **self._network_config(),
                "input_encoding": self.input_encoding,
                "num_classes": self.num_classes,
            }
        )
        return config
