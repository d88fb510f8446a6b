"""SavedModel export for serving: `serve`, `log_prob` and `generate`.

`export_saved_model(model, path)` writes a SavedModel that plain TensorFlow
(`tf.saved_model.load`, TF Serving, `saved_model_cli`) runs without keras or
keras_ar, with signatures built from the model's own hooks, so every
`AutoregressiveModel` exports without code of its own:

- `serve` (also `serving_default`): the forward pass `model(x)`, as Keras'
  default export, with integer inputs.
- `log_prob`: `x` (and `labels`) -> the log-likelihood of each example in
  nats, `model.log_prob` in the graph.
- `generate`: one `seed` per sample -> samples, the cached generation loop
  (`_generation_setup` / `_generation_state` / `_prepare_loop` /
  `_generation_step`) run inside the graph, its uniforms drawn per step
  with Threefry keyed by each sample's seed.
- `generate_from_prefix` (families that continue given values): the same,
  plus the values to continue and how much of them to keep.

Written with `keras.ops` and Keras' `ExportArchive`: under TensorFlow the
signatures are `tf.function`s; under JAX they are converted with jax2tf
(native serialization for CPU and CUDA, shapes polymorphic in the batch).
"""

import inspect
import os

import keras
import numpy as np
from keras import ops

from keras_ar.backend import serving_save_options
from keras_ar.backend.slicing import in_place_loop_body, private_loop_state
from keras_ar.ops.threefry import stateless_uniform

#: Platforms a JAX export is lowered for: exported on a GPU machine, the
#: SavedModel still serves on CPU (and the other way round).
JAX_PLATFORMS = ("cpu", "cuda")
#: Temperatures below this are raised to it in the graph (near-greedy).
MIN_TEMPERATURE = 1e-6

_TORCH_MESSAGE = (
    "Keras {version} cannot write a SavedModel from the torch backend (it "
    "needs torch_xla). Save the model and export the .keras file from a "
    "TensorFlow or JAX process instead:\n"
    "    model.save('model.keras')\n"
    "    python -m keras_ar.export model.keras OUT_DIR  # writes OUT_DIR/1/\n"
    "The weights are the same on every backend, so the export scores and "
    "samples as the torch model does."
)


def export_saved_model(model, filepath, verbose=None, generate_kwargs=None):
    """Writes `model` as a SavedModel with `serve`, `log_prob`, `generate`
    (and `generate_from_prefix` for families that continue given values).

    The SavedModel is written at `filepath` as given. TF Serving expects
    `MODEL_DIR/<version>/saved_model.pb`: pass e.g. `models/pixelcnn/1`, or
    use `python -m keras_ar.export MODEL.keras MODEL_DIR`, which writes the
    next version folder.

    Signatures (`B` is polymorphic: any batch size at serving time):

    - `serve` / `serving_default`: `x` int32 `(B, *event_shape)` [, `labels`
      int32 `(B,)`] -> the model's outputs (distribution parameters).
    - `log_prob`: `x` int32 `(B, *event_shape)` [, `labels` int32 `(B,)`]
      -> `log_prob` float32 `(B,)`, the log-likelihood in nats. An example
      with a value outside `[0, levels)` (or a label outside
      `[0, num_classes)`) scores NaN rather than a plausible number.
    - `generate`: `seed` int32 `(B,)`, `temperature` float32 scalar
      [, `labels` int32 `(B,)`] -> `samples` int32
      `(B, *generated_shape)`. The batch is the number of seeds: sample b
      depends on `seed[b]` only (the same seed gives the same sample, within
      any batch), because JAX export fixes trip counts and output shapes
      when it traces, and only input shapes can stay polymorphic. The
      uniforms come from Threefry-2x32 keyed by the seed, so a TensorFlow
      and a JAX export give the same samples for the same seed (and
      `model.generate(seed=...)`, which draws with NumPy, others).
      Temperatures below 1e-6 are raised to 1e-6.

    Real-valued models (`data_dtype` "float32", e.g. `MADEMoG`, `DeepAR`)
    take and return float32 instead of int32: `x`, `prefix` and `samples`;
    their `log_prob` is a log-density and an example holding a NaN or an
    inf scores NaN.

    Families that continue given values declare it through
    `_serving_prefix()`; they also get `generate_from_prefix`, which takes
    the inputs of `generate` plus the prefix as a full-size array and how
    much of it to keep, per sample (0 keeps nothing, the sample of
    `generate`): image models `prefix` `(B, H, W, C)` and `prefix_rows`
    `(B,)`; WaveNet `prefix` `(B, T)` and `prefix_length` `(B,)`;
    RecurrentLM `prompt` `(B, T)` and `prompt_length` `(B,)`. Kept values
    are clipped to `[0, levels)` and lengths to the generated length.

    Args:
        model: an `AutoregressiveModel` (built, as every keras_ar model is).
        filepath: the SavedModel folder to write.
        verbose: print the endpoints, as Keras' `export` does (default:
            False).
        generate_kwargs: keyword arguments of the model's generation set-up
            fixed at export time, e.g. `{"length": 16000}` for a WaveNet
            built with `sequence_length=None`, `{"max_length": 40}` for a
            RecurrentLM (output shapes are fixed in the graph).
    Returns:
        `filepath`.
    """
    backend = keras.backend.backend()
    if backend == "torch":
        raise torch_export_error()
    if backend not in ("tensorflow", "jax"):
        raise RuntimeError(
            f"SavedModel export needs the tensorflow or jax backend, not {backend!r}"
        )
    if generate_kwargs is not None and not isinstance(generate_kwargs, dict):
        raise TypeError(f"`generate_kwargs` must be a dict, got {generate_kwargs!r}")
    endpoints = serving_endpoints(model, generate_kwargs or {})
    archive = keras.export.ExportArchive()
    archive.track(model)
    extra = {}
    if backend == "jax":
        extra = {"jax2tf_kwargs": {"native_serialization_platforms": JAX_PLATFORMS}}
    for name, (fn, signature) in endpoints.items():
        archive.add_endpoint(name, fn, input_signature=signature, **extra)
    archive.write_out(
        os.fspath(filepath),
        options=serving_save_options(),
        verbose=bool(verbose),
    )
    return filepath


def serving_endpoints(model, generate_kwargs):
    """`{name: (fn, input_signature)}` for `serve`, `log_prob`, `generate`
    and, for a family with `_serving_prefix()`, `generate_from_prefix`."""
    x0, start, stop = model._generation_setup(1, **generate_kwargs)
    dtype = model.data_dtype
    discrete = dtype.startswith("int")
    x0 = np.asarray(x0, dtype)
    if start != 0:
        raise ValueError(
            "`generate_kwargs` sets up a generation that starts at step "
            f"{start}; give prefixes at serving time instead (`_serving_prefix`)"
        )
    x_spec = keras.InputSpec(shape=(None,) + tuple(model.event_shape), dtype=dtype)
    batch_spec = keras.InputSpec(shape=(None,), dtype="int32")
    label_specs = {"labels": batch_spec} if model.conditional else {}
    data_specs = {"x": x_spec, **label_specs}

    def serve(x, labels=None):
        x = ops.cast(x, dtype)
        labels = None if labels is None else ops.cast(labels, "int32")
        return model(model.pack_inputs(x, labels), training=False)

    def log_prob(x, labels=None):
        x = ops.cast(x, dtype)
        if discrete:
            valid = _in_range(x, model.levels)
            x = ops.clip(x, 0, model.levels - 1)
        else:
            valid = _all_finite(x)
            x = ops.where(ops.isfinite(x), x, ops.zeros_like(x))
        if labels is not None:
            labels = ops.cast(labels, "int32")
            valid = ops.logical_and(valid, _in_range(labels, model.num_classes))
            labels = ops.clip(labels, 0, model.num_classes - 1)
        outputs = model(model.pack_inputs(x, labels), training=False)
        log_p, _ = model.log_prob_and_dims(x, outputs)
        return {"log_prob": ops.where(valid, ops.cast(log_p, "float32"), float("nan"))}

    generate_specs = {
        "seed": batch_spec,
        "temperature": keras.InputSpec(shape=(), dtype="float32"),
        **label_specs,
    }
    prefix = model._serving_prefix()
    if prefix is not None:
        prefix_name, length_name, steps_per_unit = prefix
        prefix_specs = {
            **generate_specs,
            prefix_name: keras.InputSpec(shape=(None,) + x0.shape[1:], dtype=dtype),
            length_name: batch_spec,
        }

    def generate(seed, temperature, labels=None, prefix=None, prefix_length=None):
        seed = ops.cast(seed, "int32")
        batch = ops.shape(seed)[0]
        temperature = ops.maximum(ops.cast(temperature, "float32"), MIN_TEMPERATURE)
        if labels is not None:
            labels = ops.clip(ops.cast(labels, "int32"), 0, model.num_classes - 1)
        if prefix is None:
            x = ops.broadcast_to(ops.convert_to_tensor(x0), (batch,) + x0.shape[1:])
        else:
            x = ops.cast(prefix, dtype)
            if discrete:
                x = ops.clip(x, 0, model.levels - 1)
            units = ops.clip(
                ops.cast(prefix_length, "int32"), 0, stop // steps_per_unit
            )
        state = model._generation_state(x, labels, True)
        if prefix is not None:
            state["given_steps"] = units * steps_per_unit
        state, first = model._prepare_loop(state, start, True)
        # A served graph runs without XLA on TensorFlow: the caches are
        # written in place there (`keras_ar.backend.slicing`), on a copy.
        state = private_loop_state(state)

        def body(i, state):
            noise_i = stateless_uniform(seed, i, model.noise_width)
            with in_place_loop_body():
                return model._generation_step(
                    i, state, noise_i, temperature, use_cache=True
                )

        state = ops.fori_loop(first, stop, body, state)
        return {"samples": ops.cast(state["x"], dtype)}

    def named(fn, specs, *renames, name=None):
        """`fn` with the signature's input names as its parameters."""
        names = list(specs)
        params = dict(zip(names, names))
        params.update(dict(renames))

        def endpoint(*args):
            return fn(**{params[n]: a for n, a in zip(names, args)})

        endpoint.__signature__ = inspect.Signature(
            [
                inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                for n in names
            ]
        )
        endpoint.__name__ = name or fn.__name__
        return endpoint, list(specs.values())

    endpoints = {
        "serve": named(serve, data_specs),
        "log_prob": named(log_prob, data_specs),
        "generate": named(generate, generate_specs),
    }
    if prefix is not None:
        renames = [(prefix_name, "prefix"), (length_name, "prefix_length")]
        endpoints["generate_from_prefix"] = named(
            generate, prefix_specs, *renames, name="generate_from_prefix"
        )
    return endpoints


def _in_range(x, upper):
    """bool `(B,)`: every value of example b is in [0, upper)."""
    ok = ops.logical_and(ops.greater_equal(x, 0), ops.less(x, upper))
    ok = ops.reshape(ops.cast(ok, "int32"), (ops.shape(x)[0], -1))
    return ops.equal(
        ops.min(ops.concatenate([ok, ops.ones_like(ok[:, :1])], 1), axis=1), 1
    )


def _all_finite(x):
    """bool `(B,)`: every value of example b is finite (real-valued data)."""
    ok = ops.reshape(ops.cast(ops.isfinite(x), "int32"), (ops.shape(x)[0], -1))
    return ops.equal(ops.min(ops.concatenate([ok, ops.ones_like(ok[:, :1])], 1), axis=1), 1)


def torch_export_error():
    """The error `model.export` raises on the torch backend."""
    return RuntimeError(_TORCH_MESSAGE.format(version=keras.__version__))
