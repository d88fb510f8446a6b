"""NumPy constants (masks) as backend tensors, converted once on PyTorch.

The layers keep their masks as NumPy arrays (they are fixed by the
architecture, not trained, and must stay out of the saved weights). On JAX
and TensorFlow `ops.convert_to_tensor` of a NumPy array becomes a constant
of the compiled program, once. On PyTorch it runs at every call: a copy per
layer per sampling step, and a graph break under `torch.compile` (dynamo
cannot trace a NumPy array), so there the tensor is made once and kept on
the layer.

The same module keeps what an eager PyTorch sampling step derives from the
weights (`derived`, checked once per call inside `weights_fixed`) and the
step's products and activations in torch directly (`flat_matmul`,
`dense_call`, `activate`): in an eager step Keras' dispatch around small
tensors costs more than the arithmetic.
"""

import contextlib

import keras
from keras import ops

from keras_ar.backend.slicing import _torch_compiling, _torch_dtype, torch_tensor

# [call number, inside a sampling call]: see `weights_fixed`.
_FIXED = [0, False]


@contextlib.contextmanager
def weights_fixed():
    """Within: one eager PyTorch sampling call, during which no weight
    changes (the loop runs no user code). `derived` then checks each cached
    tensor against the weights once per call instead of at every step: the
    check (each weight's value and version counter) cost as much as the
    matrix product it guards."""
    _FIXED[0] += 1
    outer = _FIXED[1]
    _FIXED[1] = True
    try:
        yield
    finally:
        _FIXED[1] = outer


def constant(owner, name, array, dtype):
    """`ops.convert_to_tensor(array, dtype)`, cached on `owner` on PyTorch.

    Args:
        owner: the layer that holds the constant (the cache lives in its
            `__dict__`, out of Keras' attribute tracking).
        name: a key, unique within `owner`.
        array: the NumPy array; it must not change after the first call.
        dtype: the tensor's dtype.
    """
    if keras.backend.backend() != "torch":
        return ops.convert_to_tensor(array, dtype)
    cache = owner.__dict__.get("_keras_ar_constants")
    if cache is None:
        cache = owner.__dict__["_keras_ar_constants"] = {}
    key = (name, str(dtype))
    tensor = cache.get(key)
    if tensor is None:
        tensor = ops.convert_to_tensor(array, dtype)
        import torch

        # Keep only real tensors: one made while torch.compile traces is a
        # fake one, and Keras' symbolic calls (shape inference) make them on
        # the "meta" device. The sampling loop runs its first step eagerly.
        if not torch.compiler.is_compiling() and tensor.device.type != "meta":
            cache[key] = tensor
    return tensor


def derived(owner, name, make, sources):
    """`make()`, a tensor computed from the weights `sources` alone, cached
    on `owner` on eager PyTorch for as long as no source changes.

    A cached generation step needs, at every step, tensors that depend on
    the weights only (a masked kernel cut and reshaped for one patch). JAX
    and TensorFlow compile the whole loop and compute them once; eager
    PyTorch would redo them at every step, several Keras operations each
    (a large part of an eager step). The cache is kept only where no
    gradient is recorded (the sampling loop runs under `no_grad`) and is
    checked against each source's identity and in-place version counter, so
    that training, `load_weights` or `assign` between calls recompute it.

    Args:
        owner: the layer that holds the cache (in its `__dict__`).
        name: a hashable key, unique within `owner`.
        make: `make() -> tensor` (or a tuple of tensors, the first not
            None), using only `sources` (and constants).
        sources: the `keras.Variable`s (or tensors) `make` reads.
    """
    if keras.backend.backend() != "torch":
        return make()
    import torch

    if torch.compiler.is_compiling() or torch.is_grad_enabled():
        return make()
    cache = owner.__dict__.setdefault("_keras_ar_derived", {})
    entry = cache.get(name)
    if entry is not None and _FIXED[1] and entry[3] == _FIXED[0]:
        return entry[2]  # Checked earlier in this sampling call.
    values = tuple(getattr(s, "value", s) for s in sources)
    versions = tuple(v._version for v in values)
    if (
        entry is not None
        and entry[1] == versions
        and all(a is b for a, b in zip(entry[0], values))
    ):
        tensor = entry[2]
    else:
        tensor = make()
        first = tensor[0] if isinstance(tensor, tuple) else tensor
        if first.device.type == "meta":
            return tensor
    cache[name] = (values, versions, tensor, _FIXED[0] if _FIXED[1] else None)
    return tensor


def kept_weights(owner, key, kernel, bias, dtype, matrix):
    """`(matrix(), bias)` in `dtype`, kept by `derived` on `owner` under
    `key`: the weights of a step's product (`matrix()` reads `kernel`, e.g.
    reshaped or masked; `bias` may be None, and is flattened to one axis)."""
    sources = [kernel] if bias is None else [kernel, bias]

    def make():
        cast_bias = None if bias is None else ops.reshape(ops.cast(bias, dtype), (-1,))
        return ops.cast(matrix(), dtype), cast_bias

    return derived(owner, key, make, sources)


_RELU, _LINEAR = keras.activations.relu, keras.activations.linear
# Keras activations -> the same function in torch (see `activate`).
_TORCH_TWINS = {}


def torch_twin(activation, function):
    """Registers `function(torch_tensor)` as what `activate` runs on PyTorch
    for the Keras `activation` (the same arithmetic, without Keras'
    dispatch); returns `activation`."""
    _TORCH_TWINS[activation] = function
    return activation


def activate(activation, x):
    """`activation(x)`; on PyTorch ReLU and the activations given a
    `torch_twin` run in torch directly (Keras' `relu` converts and checks
    its input first: a dispatch per layer per eager sampling step, for the
    same `torch.relu`)."""
    if activation is _LINEAR:
        return x
    if keras.backend.backend() == "torch":
        import torch

        if activation is _RELU:
            return torch.relu(torch_tensor(x))
        twin = _TORCH_TWINS.get(activation)
        if twin is not None:
            return twin(torch_tensor(x))
    return activation(x)


def is_torch_tensor(x):
    """Whether `x` is a PyTorch tensor (eager, or traced by the compiler):
    where a step's operations may run in torch directly."""
    if keras.backend.backend() != "torch":
        return False
    import torch

    return torch.is_tensor(x)


def eager_torch(x):
    """Whether `x` is a PyTorch tensor outside `torch.compile`'s tracing:
    where a step may keep tensors across steps (`derived`) and slice at
    Python ints."""
    return is_torch_tensor(x) and not _torch_compiling()


def _plain(layer, kind):
    """Whether `layer` is exactly a built Keras `kind` with nothing that
    changes its call (LoRA, quantization)."""
    return (
        type(layer) is kind
        and layer.built
        and not getattr(layer, "lora_enabled", False)
        and getattr(layer, "quantization_mode", None) is None
    )


def _dense_plan(layer):
    """`(axes contracted, input size, output dims, kernel, bias)` of a layer
    `dense_call` runs as one matrix product, else None; memoised on the
    layer (an eager step calls it thousands of times, and a Keras layer's
    attribute lookups on PyTorch cost microseconds each)."""
    plan = layer.__dict__.get("_keras_ar_dense_plan", False)
    if plan is not False:
        return plan
    n = None
    if _plain(layer, keras.layers.Dense) or (
        getattr(type(layer), "matrix_product", False) and layer.built
    ):
        n = 1
    elif _plain(layer, keras.layers.EinsumDense) and "." not in layer.equation:
        operands, out = layer.equation.split("->")
        x_spec, k_spec = operands.split(",")
        for axes in range(1, min(len(x_spec), len(k_spec)) + 1):
            rest = k_spec[axes:]
            if (
                x_spec.endswith(k_spec[:axes])
                and x_spec[:-axes] + rest == out
                and layer.bias_axes in (None, rest)
                and len(set(k_spec)) == len(k_spec)
            ):
                n = axes
                break
    plan = None
    if n is not None:
        k_shape = tuple(layer.kernel.shape)
        plan = (n, _size(k_shape[:n]), k_shape[n:], layer.kernel, layer.bias)
    if layer.built:  # (an unbuilt layer is left to its own call, this time)
        layer.__dict__["_keras_ar_dense_plan"] = plan
    return plan


def dense_call(layer, x):
    """`layer(x)` for a `keras.layers.Dense`, an `EinsumDense` that is a
    matrix product over x's trailing axes (attention's projections), or a
    layer whose class sets `matrix_product = True` (`x @ kernel + bias`), in a
    sampling step: on PyTorch one `torch.addmm` with the weights kept
    flattened as for `derived`, then the activation (Keras' `__call__` costs
    more than the product there); elsewhere the layer's own call."""
    plan = _dense_plan(layer) if is_torch_tensor(x) else None
    if (
        plan is None
        or getattr(layer, "lora_enabled", False)
        or layer.quantization_mode is not None
    ):
        return layer(x)
    n, size_in, out_dims, kernel, bias = plan
    matrix, bias = kept_weights(
        layer, ("dense", x.dtype), kernel, bias, x.dtype,
        lambda: ops.reshape(kernel, (size_in, _size(out_dims))),
    )  # fmt: skip
    outputs = flat_matmul(x.reshape(-1, size_in), matrix, bias)
    lead = tuple(x.shape[: x.dim() - n])
    outputs = outputs.reshape(lead + out_dims)
    return activate(getattr(layer, "activation", _LINEAR), outputs)


def dense_forward(layer, x):
    """`layer(x)` in a model's forward pass, training included: `dense_call`
    (on PyTorch one `addmm` with the bias inside, forward and backward,
    instead of Keras' product and a separate add over the output) where `x`
    is already in the layer's compute dtype, so that Keras' call would cast
    nothing; the layer's own call otherwise. It pays for a large output
    (a language model's head over its vocabulary: 9% of RecurrentLM's
    PyTorch training step); for WaveNet's and PixelCNN++'s small
    projections it measured 4-8% slower, so they keep Keras' call."""
    if is_torch_tensor(x) and keras.backend.standardize_dtype(x.dtype) == getattr(
        layer, "compute_dtype", None
    ):
        if getattr(layer, "activity_regularizer", None) is None:
            return dense_call(layer, x)
    return layer(x)


def _size(shape):
    size = 1
    for dim in shape:
        size *= dim
    return size


def layer_norm_call(layer, x):
    """`layer(x)` for a `keras.layers.LayerNormalization` over the last
    axis, in a sampling step: on PyTorch the `layer_norm` that Keras' own
    call runs (in at least float32, then cast back), without its dispatch;
    elsewhere the layer's own call."""
    if (
        not is_torch_tensor(x)
        or not _plain(layer, keras.layers.LayerNormalization)
        or layer.rms_scaling
        or list(layer.axis) not in ([-1], [x.dim() - 1])
    ):
        return layer(x)
    import torch

    wide = x if x.dtype in (torch.float32, torch.float64) else x.float()
    gamma = None if layer.gamma is None else torch_tensor(layer.gamma.value, wide.dtype)
    beta = None if layer.beta is None else torch_tensor(layer.beta.value, wide.dtype)
    outputs = torch.nn.functional.layer_norm(
        wide, (x.shape[-1],), gamma, beta, layer.epsilon
    )
    return outputs.to(_torch_dtype(layer.compute_dtype))


def embedding_call(layer, ids):
    """`layer(ids)` for a `keras.layers.Embedding` in a sampling step: on
    PyTorch the row lookup Keras' call makes (`take` along the rows, cast
    to the compute dtype) without its dispatch; elsewhere the layer's own
    call."""
    if not is_torch_tensor(ids) or not _plain(layer, keras.layers.Embedding):
        return layer(ids)
    import torch

    table = torch_tensor(layer.embeddings.value)
    rows = table[ids if ids.dtype in (torch.int32, torch.int64) else ids.int()]
    return rows.to(_torch_dtype(layer.compute_dtype))


def flat_matmul(x, matrix, bias=None):
    """`reshape(x, (batch, -1)) @ matrix (+ bias)` in `matrix`'s dtype.

    On PyTorch straight in torch (a reshape, one `mm` and an add: the same
    arithmetic as `ops.tensordot` over every axis but the first, then
    `ops.add`), which saves the Keras dispatch of five operations per call
    in an eager sampling step; elsewhere with `keras.ops` (inside a
    compiled loop the dispatch costs nothing).
    """
    if keras.backend.backend() == "torch":
        import torch

        # Each call of an eager step counts: checks only where needed.
        x = torch_tensor(x)
        if x.dim() != 2:
            x = x.reshape(x.shape[0], -1)
        if x.dtype != matrix.dtype:
            x = x.to(matrix.dtype)
        if bias is None:
            return torch.mm(x, matrix)
        # One fused operation (bias + x @ matrix) rather than two.
        bias = torch_tensor(getattr(bias, "value", bias), matrix.dtype)
        return torch.addmm(bias, x, matrix)
    x = ops.cast(x, matrix.dtype)
    outputs = ops.matmul(ops.reshape(x, (ops.shape(x)[0], -1)), matrix)
    if bias is not None:
        outputs = outputs + ops.cast(bias, outputs.dtype)
    return outputs
