"""MADE with mixture-of-Gaussians conditionals (MADE MoG, as in
Papamakarios et al., 2017, "Masked Autoregressive Flow for Density
Estimation"): a density estimator for real-valued vectors."""

import keras
from keras import ops

from keras_ar._signatures import shows_arguments_of
from keras_ar.models._made_common import MADENetwork
from keras_ar.models.continuous_model import ContinuousAutoregressiveModel
from keras_ar.ops import mixture_of_gaussians as mog
from keras_ar.validation import check_positive_float


@keras.saving.register_keras_serializable(package="keras_ar")
@shows_arguments_of(MADENetwork.__init__)
class MADEMoG(MADENetwork, ContinuousAutoregressiveModel):
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
        *,
        min_log_scale=mog.MIN_LOG_SCALE,
        max_log_scale=mog.MAX_LOG_SCALE,
        **kwargs,
    ):
        # `ordering`, `hidden_degrees`, `seed`, `num_masks`,
        # `direct_connection` and `activation` are `MADENetwork`'s (as in MADE).
        super().__init__(input_dim, hidden_units, **kwargs)
        mog.set_mixture_args(self, num_components, min_log_scale, max_log_scale)
        self._build_network(
            inputs_per_dim=1,
            outputs_per_dim=mog.num_params(self.num_components),
        )
        self._build_now()

    @property
    def total_components(self):
        """Components of the mixture `call` returns: K times the mask sets."""
        return self.num_components * self.num_masks

    # -- the hooks of `MADENetwork` ----------------------------------------
    def _member_log_prob(self, x, params):
        return mog.gaussian_mixture_log_prob(
            x, params, self.num_components, **mog.clamp_of(self)
        )

    def _mix_members(self, params, log_weights):
        """One mixture of K*M components from M members' parameters."""
        k = self.num_components
        logits, means, log_scales = [], [], []
        for member, log_weight in zip(params, log_weights):
            logits.append(
                ops.log_softmax(member[..., :k], axis=-1)
                + ops.expand_dims(log_weight, -1)
            )
            means.append(member[..., k : 2 * k])
            log_scales.append(member[..., 2 * k :])
        return ops.concatenate(
            [ops.concatenate(p, axis=-1) for p in (logits, means, log_scales)], axis=-1
        )

    def _training_outputs(self, params):
        # The same layout as the ensemble's: the other members' slots get
        # weight zero (logit -1e9, exp underflows to 0).
        k = self.num_components
        pad = self.total_components - k
        head = params[..., :k]
        fill = ops.full(ops.shape(head)[:-1] + (pad,), -1e9, "float32")
        zeros = ops.zeros_like(fill)
        return ops.concatenate(
            [head, fill, params[..., k : 2 * k], zeros, params[..., 2 * k :], zeros],
            axis=-1,
        )

    def _sample_dim(self, params, noise, temperature):
        return mog.sample_gaussian_mixture(
            params, noise, self.total_components, temperature, **mog.clamp_of(self)
        )

    def log_prob_and_dims(self, x, outputs, temperature=1.0):
        log_p = mog.gaussian_mixture_log_prob(
            x, outputs, self.total_components, **mog.clamp_of(self),
            temperature=temperature,
        )  # fmt: skip
        log_prob = ops.sum(log_p, axis=-1)
        dims = ops.ones_like(log_prob) * float(self.input_dim)
        return log_prob, dims

    def conditional_cdf(self, x, temperature=1.0):
        """P(X_d <= x_d | x_<d) for every d: float32 NumPy `(N, D)`, of the
        model at `temperature` (as `log_prob`).

        Uniform on [0, 1] under the model for samples of the model (the
        probability integral transform), which is how the tests check that
        samples follow the density, one conditional at a time.
        """
        x = self.validate_x(x)
        temperature = check_positive_float("temperature", temperature)
        params = self(x, training=False)
        return ops.convert_to_numpy(
            mog.gaussian_mixture_cdf(
                x, params, self.total_components, **mog.clamp_of(self),
                temperature=temperature,
            )
        )  # fmt: skip

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "num_components": self.num_components,
                **self._network_config(),
                "min_log_scale": self.min_log_scale,
                "max_log_scale": self.max_log_scale,
            }
        )
        return config
