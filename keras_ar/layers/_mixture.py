"""`MixtureHead`: the projection that the mixture output layers share.

`MixtureOfGaussians` and `MixtureOfLogistics` are the same per-position
dense layer, features `(..., F)` to a parameter vector `(..., num_params)`;
they differ only in the parameter layout and in how the distribution reads
it, so the projection, its weights and their config live here once.
"""

from keras import ops

from keras_ar.layers._common import WeightedLayer, add_kernel_and_bias, known_last_dim


class MixtureHead(WeightedLayer):
    """Base of the mixture heads. Not used directly.

    A subclass sets `num_params` in its `__init__` and adds the
    distribution's methods; the kernel `(F, num_params)` and bias are made
    in `build` (named "kernel" and "bias", as in the saved files).
    """

    #: `call` is `features @ kernel + bias`: a sampling step may run it as
    #: one product (`keras_ar.backend.constants.dense_call`).
    matrix_product = True

    def build(self, input_shape):
        features = known_last_dim(self, input_shape, "feature dimension")
        add_kernel_and_bias(self, (features, self.num_params), self.num_params, True)

    def call(self, features):
        return ops.matmul(features, self.kernel) + self.bias

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_params,)
