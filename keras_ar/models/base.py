"""`AutoregressiveModel`: what every keras_ar model shares.

A model factorizes p(x) = prod_i p(x_i | x_<i) over the elements of an
integer-valued example `x` (pixels, audio samples, tokens, bits). Subclasses
write the network; this base gives them, identically on every backend:

- `compile()` / `fit(x)` with no targets: the default loss is the negative
  log-likelihood in nats per dimension (inputs are their own targets), and
  `bits_per_dim` is reported as a metric.
- `log_prob(x, labels=None)`: per-example log-likelihood in nats.
- `generate(num_samples, seed, temperature, use_cache, labels, ...)`: a
  sampling loop, compiled per backend (`keras_ar.backend.compile_loop`),
  with a cached incremental path and a plain reference path that make the
  same random choice at each step.
- Clear `ValueError`s for bad inputs, before any backend code runs, in
  every entry point: `log_prob`, `generate`, and also `fit`, `evaluate`,
  `predict`, `train_on_batch`, `test_on_batch`, `predict_on_batch` (see
  "What is checked where" below). Subclasses get all of it for free.

What is checked where
---------------------
Examples must be integers in `[0, levels)` (`levels` is `vocab_size` for
language models) of shape `(batch, *event_shape)`; class labels integers in
`[0, num_classes)`, one per example.

- Arrays (NumPy or backend tensors, or a dict of them) given to `fit`
  (`x` and `validation_data`), `evaluate`, `predict`, `*_on_batch`,
  `log_prob` or `generate(prefix=...)` are checked up front, once, with one
  min/max pass: dtype, shape, range, labels, emptiness. A `ValueError` names
  the argument.
- Streamed data (`tf.data.Dataset`, Python generators,
  `keras.utils.PyDataset`, a torch `DataLoader`) is checked batch by batch
  in `train_step` / `test_step` / `predict_step`: the dtype and the shape of
  every batch (a float batch raises a `ValueError` naming
  `keras_ar.datasets.quantize`), and, where the batch is concrete (PyTorch,
  which runs steps eagerly, or `run_eagerly=True`), its values too, raising
  the same `ValueError`. In a compiled step (TensorFlow, JAX) values are not
  known when the step is traced, so the range check is compiled into the
  loss instead: a batch with a value outside `[0, levels)` or a label
  outside `[0, num_classes)` gets a NaN loss and NaN metrics, never a finite
  number (`keras.callbacks.TerminateOnNaN` then stops the run), and the
  network itself sees the values clipped into range so that no backend
  kernel fails with an index error. `predict` on such a compiled stream
  returns outputs for the clipped values: check streamed data for `predict`
  yourself, or pass arrays.

The dtype and value checks go through two hooks, `_check_dtype` and
`_check_values` (integers in `[0, levels)` here); the real-valued families
(`keras_ar.models.continuous_model.ContinuousAutoregressiveModel`,
`data_dtype = "float32"`) override them to accept floats and refuse NaN,
inf and wrong widths, with the same `ValueError`s naming the argument.

Subclass contract
-----------------
Attributes set in `__init__`: `levels` (int), `event_shape` (tuple without
the batch axis; `None` for a free length), `num_classes` (int or None).

- `call(inputs, training=False)`: `inputs` is the int tensor `x`, or, for a
  class-conditional model, a dict `{"inputs": x, "labels": labels}`.
  Returns distribution parameters for every element, where the parameters
  for element i depend only on `x_<i` (and the labels).
- `element_log_probs(x, outputs)`: float32 `(B, *positions)`, the
  log-likelihood in nats of each element (or of each pixel, for a head that
  scores a whole pixel at once) given the ones before it; positions that are
  not scored (e.g. after the end of a text) hold 0.
- `log_prob_and_dims(x, outputs)`: `(log_prob, dims)`, both float32 `(B,)`:
  the log-likelihood of each example in nats, and how many dimensions it
  counts (e.g. unpadded tokens). The default sums `element_log_probs` and
  counts every element of `x`. The loss, the metrics, `log_prob` and
  `log_prob_elements` all go through these functions.
- Generation (see `generate`): `_generation_setup(num_samples, **kwargs)`,
  `_generation_state(x0, labels, use_cache)` and
  `_generation_step(i, state, noise_i, temperature, use_cache)`. These hooks
  also run inside an exported SavedModel (`export`): `_generation_state` and
  `_prepare_loop` get `x0` as a tensor whose batch size may be symbolic, so
  they read it with `ops.shape(x)[0]` and build their caches with `keras.ops`
  (no NumPy on tensors). `_serving_prefix` declares a prefix input.
"""

import inspect
import math

import keras
import numpy as np
from keras import ops

from keras_ar.backend import (
    compile_loop,
    eager_torch,
    is_concrete,
    keep_variables_on_error,
    num_replicas_in_sync,
    sum_over_replicas,
)
from keras_ar.generation import (
    draw_noise,
    loop_state_bytes,
    run_in_chunks,
)
from keras_ar.metrics import NegativeLogLikelihood
from keras_ar.validation import check_int, check_positive_float, to_numpy


class AutoregressiveModel(keras.Model):
    """Base class of keras_ar's models. Not used directly."""

    #: Uniform draws used per generation step (a subclass may change it).
    noise_width = 1
    #: The dtype of the data (`x`, samples, exported inputs): "int32" for
    #: the discrete families; "float32" for real-valued data
    #: (`keras_ar.models.continuous_model.ContinuousAutoregressiveModel`).
    data_dtype = "int32"
    #: The unit of the reported NLL metric ("bits": `bits_per_dim`).
    nll_unit = "bits"

    def __init__(self, levels, event_shape, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        check_int("levels", levels, minimum=2)
        if num_classes is not None:
            check_int("num_classes", num_classes, minimum=1)
        self.levels = int(levels)
        self.event_shape = tuple(event_shape)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.nll_metric = NegativeLogLikelihood(unit=self.nll_unit)
        self._default_loss = True
        self._generation_loops = {}

    # ------------------------------------------------------------------
    # Inputs
    @property
    def conditional(self):
        return self.num_classes is not None

    def pack_inputs(self, x, labels=None):
        """The `call` input for `x` (and `labels` for a conditional model)."""
        if self.conditional:
            return {"inputs": x, "labels": labels}
        return x

    def unpack_inputs(self, inputs):
        """`(x, labels)` from a `call` input.

        While a graph is traced (values unknown), integer `x` and `labels`
        come back clipped into `[0, levels)` and `[0, num_classes)`, so that
        an out-of-range value in a compiled step reaches no embedding or
        gather kernel (where it would be an index error, or silently read
        another row); the loss of such a batch is NaN (see `_nll`).
        """
        x, labels = self._split_inputs(inputs)
        return self._clip_traced(x, self.levels), self._clip_traced(
            labels, self.num_classes
        )

    def _clip_traced(self, values, size):
        if values is None or size is None or is_concrete(values):
            return values
        if not _is_integer_dtype(values.dtype):
            return values
        return ops.clip(values, 0, size - 1)

    def _split_inputs(self, inputs):
        """`(x, labels)` from a `call` input, as given."""
        if isinstance(inputs, dict):
            if "inputs" not in inputs:
                raise ValueError(
                    "A dict input must hold the data under the key 'inputs' "
                    f"(and class labels under 'labels'); got keys {sorted(inputs)}"
                )
            labels = inputs.get("labels")
            if self.conditional and labels is None:
                raise ValueError(
                    f"{type(self).__name__} is class-conditional "
                    f"(num_classes={self.num_classes}): pass {{'inputs': x, "
                    "'labels': labels}."
                )
            return inputs["inputs"], labels
        if self.conditional:
            raise ValueError(
                f"{type(self).__name__} is class-conditional "
                f"(num_classes={self.num_classes}): pass "
                "{'inputs': x, 'labels': labels} (or `labels=` to log_prob "
                "and generate)."
            )
        return inputs, None

    @property
    def levels_name(self):
        """The constructor argument that sets `levels` (e.g. `vocab_size`)."""
        if getattr(self, "vocab_size", None) == self.levels:
            return "vocab_size"
        return "levels"

    def validate_x(self, x, name="x"):
        """Checks an integer example batch and returns it as int32 NumPy."""
        x = to_numpy(x)
        self._check_dtype(x.dtype, name)
        self._check_shape(x.shape, name)
        return self.validate_values(x, name)

    def validate_values(self, x, name="x"):
        """Checks that `x` holds integers in [0, levels); returns int32 NumPy.

        For arrays of any shape, e.g. a generation prefix."""
        x = to_numpy(x)
        self._check_integers(x.dtype, name)
        if x.size:
            self._check_range(x.min(), x.max(), name)
        return x.astype("int32")

    def _check_range(self, low, high, name, where=""):
        if low < 0 or high >= self.levels:
            raise ValueError(
                f"`{name}` values must be in [0, {self.levels}) "
                f"({self.levels_name}={self.levels}), got min {low} and max "
                f"{high}{where}"
            )

    def _check_shape(self, shape, name):
        """Raises unless `shape` is `(batch, *event_shape)`; `None` entries
        (unknown while tracing, or a free length) match anything."""
        expected = self.event_shape
        if len(shape) != len(expected) + 1 or any(
            e is not None and a is not None and a != e
            for a, e in zip(tuple(shape)[1:], expected)
        ):
            shown = ", ".join("N" if e is None else str(e) for e in expected)
            raise ValueError(
                f"`{name}` must have shape (batch, {shown}), got {tuple(shape)}"
            )

    def _check_values(self, x, name, where=""):
        """Checks the values of a concrete array (the data-value hook).

        The discrete families check `[0, levels)` with one min/max pass (on
        the device for a backend tensor: only two numbers come back); a
        real-valued family overrides it (finite values)."""
        self._check_range(*_min_max(x), name, where)

    def _check_dtype(self, dtype, name):
        """Checks the data's dtype (the data-dtype hook): integers here."""
        self._check_integers(dtype, name)

    def _check_integers(self, dtype, name):
        if not _is_integer_dtype(dtype):
            raise ValueError(
                f"`{name}` must hold integers in [0, {self.levels}) (the "
                f"model's `{self.levels_name}`), got dtype "
                f"{keras.backend.standardize_dtype(dtype)}. Quantize images "
                "first, e.g. keras_ar.datasets.quantize(images, levels) "
                "(or pass token ids for a language model)."
            )

    def validate_labels(self, labels, batch_size):
        """Checks `labels` against `num_classes`; returns int32 NumPy or None."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(
                    f"`labels` given, but {type(self).__name__} is not "
                    "class-conditional (construct it with num_classes=...)."
                )
            return None
        if labels is None:
            raise ValueError(
                f"`labels` is required: {type(self).__name__} is "
                f"class-conditional with num_classes={self.num_classes}."
            )
        labels = to_numpy(labels)
        if labels.ndim == 0:
            labels = np.full((batch_size,), labels)
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"`labels` must be integers, got dtype {labels.dtype}")
        if labels.shape != (batch_size,):
            raise ValueError(
                f"`labels` must have shape ({batch_size},) (one per example), "
                f"got {labels.shape}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"`labels` must be in [0, {self.num_classes}) "
                f"(num_classes={self.num_classes}), got {labels.min()}..{labels.max()}"
            )
        return labels.astype("int32")

    # ------------------------------------------------------------------
    # Data given to the Keras workflows (fit, evaluate, predict, ...)
    def check_data(self, data, name="x"):
        """Checks array data given to `fit`/`evaluate`/`predict`, up front.

        `data` is the model input: an int array `(N, *event_shape)`, or a
        dict `{"inputs": x, "labels": labels}` for a class-conditional model
        (NumPy or backend tensors). Checks dtype, shape, emptiness, one
        min/max pass for the range and the labels against `num_classes`;
        raises a `ValueError` naming `name`. Streamed data (a dataset, a
        generator, a `PyDataset`, ...) is left to the per-batch checks of
        the train/test/predict steps; returns whether `data` was checked.
        """
        if not _is_array_data(data):
            return False
        x, labels = self._split_inputs(data)
        self._check_dtype(x.dtype, name)
        shape = tuple(int(d) for d in x.shape)
        self._check_shape(shape, name)
        if shape[0] == 0:
            raise ValueError(f"`{name}` is empty: it holds 0 examples")
        self._check_values(x, name)
        if labels is not None or self.conditional:
            self.validate_labels(labels, shape[0])
        return True

    def _check_batch(self, data):
        """Checks one batch inside a train/test/predict step (see the module
        docstring): static dtype and shape always; values when concrete."""
        x = keras.utils.unpack_x_y_sample_weight(data)[0]
        x, labels = self._split_inputs(x)
        where = " in a batch of the data"
        self._check_dtype(x.dtype, "x")
        self._check_shape(tuple(x.shape), "x")
        if labels is not None and not _is_integer_dtype(labels.dtype):
            raise ValueError(
                "`labels` must be integers, got dtype "
                f"{keras.backend.standardize_dtype(labels.dtype)}{where}"
            )
        if is_concrete(x) and _size(x):
            self._check_values(x, "x", where)
        if labels is not None and is_concrete(labels) and _size(labels):
            low, high = _min_max(labels)
            if low < 0 or high >= self.num_classes:
                raise ValueError(
                    f"`labels` must be in [0, {self.num_classes}) "
                    f"(num_classes={self.num_classes}), got {low}..{high}{where}"
                )

    def _out_of_range(self, x, labels):
        """Scalar bool tensor: does the batch hold a value out of range (see
        `_bad_values`) or a label outside `[0, num_classes)`?"""
        bad = self._bad_values(x)
        if labels is not None and self.num_classes is not None:
            labels = ops.cast(labels, "int32")
            bad = ops.logical_or(
                bad,
                ops.logical_or(
                    ops.min(labels) < 0, ops.max(labels) >= self.num_classes
                ),
            )
        return bad

    def _bad_values(self, x):
        """Scalar bool tensor: a value outside `[0, levels)`. The hook the
        real-valued base overrides (a NaN or an inf); the labels' check is
        the same for every family."""
        x = ops.cast(x, "int32")
        return ops.logical_or(ops.min(x) < 0, ops.max(x) >= self.levels)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, with the data checks described in the module
        docstring: arrays in `x` and `validation_data` are checked up front,
        streamed data batch by batch."""
        self.check_data(x, "x")
        # validation_data is fit's 8th positional argument.
        validation = kwargs.get("validation_data", args[5] if len(args) > 5 else None)
        if isinstance(validation, (tuple, list)) and validation:
            validation = validation[0]
        self.check_data(validation, "validation_data")
        with keep_variables_on_error(self):
            return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, with the data checks of `fit`."""
        self.check_data(x, "x")
        with keep_variables_on_error(self):
            return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict` (distribution parameters), with the data
        checks of `fit`."""
        self.check_data(x, "x")
        with keep_variables_on_error(self):
            return super().predict(x, *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        """`keras.Model.train_on_batch`, with the data checks of `fit`."""
        self.check_data(x, "x")
        with keep_variables_on_error(self):
            return super().train_on_batch(x, y, *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        """`keras.Model.test_on_batch`, with the data checks of `fit`."""
        self.check_data(x, "x")
        with keep_variables_on_error(self):
            return super().test_on_batch(x, y, *args, **kwargs)

    def predict_on_batch(self, x):
        """`keras.Model.predict_on_batch`, with the data checks of `fit`."""
        self.check_data(x, "x")
        with keep_variables_on_error(self):
            return super().predict_on_batch(x)

    # The steps take `(data)` on TensorFlow and PyTorch and `(state, data)`
    # on JAX: the batch is always the last argument.
    def train_step(self, *args):
        self._check_batch(args[-1])
        return super().train_step(*args)

    def test_step(self, *args):
        self._check_batch(args[-1])
        return super().test_step(*args)

    def predict_step(self, *args):
        self._check_batch(args[-1])
        return super().predict_step(*args)

    # ------------------------------------------------------------------
    # Training: the default loss is the NLL of the inputs themselves.
    def element_log_probs(self, x, outputs):
        """float32 `(B, *positions)`: each element's log-likelihood in nats.

        Summed over the non-batch axes it is `log_prob_and_dims`'s
        `log_prob` (see the subclass contract)."""
        raise NotImplementedError

    def log_prob_and_dims(self, x, outputs):
        elements = self.element_log_probs(x, outputs)
        log_prob = ops.sum(ops.reshape(elements, (ops.shape(elements)[0], -1)), axis=-1)
        size = 1
        for d in ops.shape(x)[1:]:
            size = size * d
        dims = ops.ones_like(log_prob) * ops.cast(size, "float32")
        return log_prob, dims

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Like `keras.Model.compile`, with the NLL as the default loss.

        With `loss=None` (the default) `fit(x)` needs no targets: the loss is
        the negative log-likelihood of `x` in nats per dimension, and
        `bits_per_dim` is reported. A `loss` given here replaces it and then
        `fit` needs targets as usual.
        """
        self._default_loss = loss is None
        # On PyTorch, `generate` samples eagerly for a model compiled with
        # `jit_compile=False` or `run_eagerly=True`, always compiles its
        # cached step with `jit_compile=True`, and otherwise compiles it
        # where that pays within the call
        # (`keras_ar.backend.torch_compile_setting`). Keras resolves its
        # default "auto" to False on PyTorch, so the choice is kept here.
        self._keras_ar_eager_sampling = (
            kwargs.get("jit_compile", "auto") is False or bool(kwargs.get("run_eagerly"))
        )
        self._keras_ar_compiled_sampling = (
            kwargs.get("jit_compile", "auto") is True and not self._keras_ar_eager_sampling
        )
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Re-compiles a loaded model as it was saved (default loss included).

        Keras skips this for models that override `compile()`; ours keeps
        `compile`'s signature, so the saved arguments replay as they are.
        """
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _nll(self, x, y_pred, sample_weight=None):
        raw, raw_labels = self._split_inputs(x)
        data, _ = self.unpack_inputs(x)
        log_prob, dims = self.log_prob_and_dims(data, y_pred)
        # A value out of range must never give a finite loss: in a compiled
        # step it cannot raise, so the batch's loss and metrics become NaN.
        nats = ops.where(self._out_of_range(raw, raw_labels), float("nan"), -log_prob)
        if sample_weight is not None:
            sample_weight = ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
            nats = nats * sample_weight
            dims = dims * sample_weight
        return nats, dims

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if not self._default_loss:
            return super().compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
            )
        nats, dims = self._nll(x, y_pred, sample_weight)
        if eager_torch(nats):
            # An eager PyTorch step would compute the same log-likelihood
            # again for the metrics (a softmax over every position); JAX's
            # and TensorFlow's compiled steps compute it once anyway.
            self.__dict__["_keras_ar_step_nll"] = (
                y_pred, sample_weight, nats.detach(), dims.detach()
            )
        # Under tf.distribute each replica sees a slice of the batch and the
        # replicas' gradients are summed: normalizing by the dimensions of
        # the whole global batch makes that sum the single-device gradient
        # (keras_ar.backend.distribution explains each backend).
        total_dims = sum_over_replicas(ops.sum(dims))
        loss = ops.sum(nats) / ops.maximum(total_dims, 1.0)
        replicas = num_replicas_in_sync()
        for extra in self.losses:
            # Regularizers count once per step, not once per replica.
            loss = loss + ops.cast(ops.sum(extra), loss.dtype) / replicas
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self._default_loss:
            kept = self.__dict__.pop("_keras_ar_step_nll", None)
            if kept is not None and kept[0] is y_pred and kept[1] is sample_weight:
                nats, dims = kept[2:]
            else:
                nats, dims = self._nll(x, y_pred, sample_weight)
            self.nll_metric.update_state(nats, dims)
            self.update_extra_metrics(nats, dims)
            y = None
            if self._compile_metrics is not None:
                # User metrics compare against the inputs themselves.
                y = self.unpack_inputs(x)[0]
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def update_extra_metrics(self, nats, dims):
        """Hook for subclasses that report more (e.g. perplexity)."""

    # ------------------------------------------------------------------
    # Scoring
    def log_prob(self, x, labels=None, batch_size=128):
        """Log-likelihood of each example, in nats.

        Args:
            x: int array `(N, *event_shape)` with values in `[0, levels)`.
            labels: for a class-conditional model, int array `(N,)`.
            batch_size: examples per forward pass.
        Returns:
            float64 NumPy array `(N,)`; `exp(log_prob)` sums to one over all
            possible `x` of that shape.
        """

        def score(x, outputs):
            log_prob, _ = self.log_prob_and_dims(x, outputs)
            return ops.convert_to_numpy(log_prob)

        return self._score_in_batches(x, labels, batch_size, score)

    def log_prob_elements(self, x, labels=None, batch_size=128):
        """Where `x` is (un)likely: the log-likelihood of each position.

        Args: as `log_prob`.
        Returns:
            float64 NumPy array: `(N, height, width)` for image models (a
            pixel's channels summed), `(N, length)` for sequences (0 after
            the end of a text), `(N, input_dim)` for MADE; in nats. Summed
            over all but the first axis it is `log_prob(x)`.
        """

        def score(x, outputs):
            elements = self.element_log_probs(x, outputs)
            return self._per_position(ops.convert_to_numpy(elements))

        return self._score_in_batches(
            x, labels, batch_size, score, self._per_position_shape
        )

    def _score_in_batches(self, x, labels, batch_size, score, position_shape=None):
        """The loop `log_prob` and `log_prob_elements` share: checks the
        arguments, runs the model on `batch_size` examples at a time and
        returns `score(x_batch, outputs)` (NumPy, a row per example) of all
        batches as float64; without examples, zeros of shape
        `(0, *position_shape(event_shape))` (`(0,)` without `position_shape`).
        """
        x = self.validate_x(x)
        labels = self.validate_labels(labels, len(x))
        check_int("batch_size", batch_size, minimum=1)
        results = []
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size]
            lb = None if labels is None else labels[start : start + batch_size]
            outputs = self(self.pack_inputs(xb, lb), training=False)
            results.append(score(ops.convert_to_tensor(xb), outputs))
        if not results:
            shape = () if position_shape is None else position_shape(x.shape[1:])
            return np.zeros((0,) + tuple(shape), "float64")
        return np.concatenate(results).astype("float64")

    def _per_position(self, elements):
        """NumPy `element_log_probs` -> the positions `log_prob_elements`
        reports (image models sum a pixel's channels)."""
        return elements

    def _per_position_shape(self, event_shape):
        return tuple(event_shape)

    def bits_per_dim(self, x, labels=None, batch_size=128):
        """Mean negative log-likelihood of `x` in bits per dimension."""
        log_prob = self.log_prob(x, labels=labels, batch_size=batch_size)
        x = np.asarray(x)
        dims = x[0].size if x.ndim > 1 else 1
        return float(-log_prob.mean() / dims / math.log(2.0))

    # ------------------------------------------------------------------
    # Sampling
    def generate(
        self,
        num_samples=1,
        seed=None,
        temperature=1.0,
        use_cache=True,
        labels=None,
        batch_size=None,
        verbose="auto",
        **kwargs,
    ):
        """Draws samples, one element at a time, in a compiled loop.

        The loop is compiled on JAX and TensorFlow (one XLA program). On
        PyTorch the cached step is compiled with `torch.compile` where that
        pays within the call (a compilation takes seconds to minutes; short
        calls run the eager loop, and a step once compiled for a model and
        batch shape is reused), always with `KERAS_AR_TORCH_COMPILE=1` or
        `compile(jit_compile=True)`, never with `KERAS_AR_TORCH_COMPILE=0`
        or `compile(jit_compile=False)`. Same samples either way.

        Args:
            num_samples: how many examples to draw (>= 1).
            seed: int seed; the same seed gives the same samples (on a given
                backend), whatever `batch_size`. The per-step uniforms come
                from NumPy, so both generation paths, and all backends, see
                the same draws.
            temperature: > 0; divides the logits (or the logistic scales).
            use_cache: True for incremental generation (each step computes
                only what the new element changes); False for the reference
                path (a full forward pass per step). Same seed, same samples.
            labels: class labels, one int per sample, or one int for all, for
                class-conditional models.
            batch_size: samples drawn together in one loop, so that memory
                stays bounded for large `num_samples`; None picks at most
                1024, fewer when one sample's loop state is large (see
                `generation_batch_size`).
            verbose: "auto" shows a progress bar for long runs (many chunks
                or thousands of steps), 1 always, 0 never. On PyTorch the
                loop also says, once, when it compiles its step, or why a
                long call stays eager ("auto": when it takes long).
            **kwargs: family-specific options (e.g. `prefix` for images).
        Returns:
            int32 NumPy array `(num_samples, *event_shape)`.
        """
        check_int("num_samples", num_samples, minimum=1)
        temperature = check_positive_float("temperature", temperature)
        labels = self.validate_labels(labels, num_samples)
        self._check_generate_options(kwargs)
        x0, start, stop = self._generation_setup(num_samples, **kwargs)
        noise = draw_noise(seed, stop, num_samples, self.noise_width)
        run = self._generation_loop(bool(use_cache))

        def run_chunk(rows, progress):
            state = self._generation_state(
                x0[rows], None if labels is None else labels[rows], use_cache
            )
            state, first = self._prepare_loop(state, start, use_cache)
            state = progress.run_steps(
                run, state, ops.convert_to_tensor(noise[:, rows]), first, stop, temperature
            )
            return self._generation_result(state)

        def state_bytes():
            state = self._generation_state(
                x0[:1], None if labels is None else labels[:1], use_cache
            )
            return loop_state_bytes(self._prepare_loop(state, start, use_cache)[0])

        return run_in_chunks(
            run_chunk, num_samples, batch_size, stop - start, verbose, state_bytes
        )

    def _generation_loop(self, use_cache):
        if use_cache not in self._generation_loops:

            def step(i, state, noise_i, temperature):
                return self._generation_step(
                    i, state, noise_i, temperature, use_cache=use_cache
                )

            # PyTorch compiles the cached step only: the uncached one calls
            # the whole model, whose Keras call bookkeeping `torch.compile`
            # would retrace at every step.
            self._generation_loops[use_cache] = compile_loop(
                self, step, torch_compile=use_cache
            )
        return self._generation_loops[use_cache]

    def _generation_setup(self, num_samples, **kwargs):
        """Returns `(x0, start, stop)`: the initial int32 NumPy batch and the
        range of steps to run (steps before `start` are given, e.g. a prefix).
        """
        raise NotImplementedError

    def _check_generate_options(self, kwargs):
        """A `TypeError` naming any option of `generate` that this family's
        `_generation_setup` does not take (and the ones it does)."""
        params = inspect.signature(self._generation_setup).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return
        own = [name for name in params if name != "num_samples"]
        unknown = sorted(set(kwargs) - set(own))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.generate() got unknown option(s) "
                f"{', '.join(unknown)}; besides num_samples, seed, temperature, "
                f"use_cache, labels, batch_size and verbose it takes "
                f"{', '.join(own) if own else 'no other option'}"
            )

    def _given_prefix(self, prefix, num_samples, shape, what, unit):
        """`prefix` checked as the given start of samples of shape `shape`
        (the generated array's, without the batch axis): int32 NumPy
        `(num_samples or 1, P, *shape[1:])` with `P <= shape[0]`, one sample
        without the batch axis standing for all. `what` and `unit` name the
        given part and its units in the error (the families' words for it)."""
        prefix = np.asarray(prefix)
        if prefix.ndim == len(shape):
            prefix = prefix[None]
        if (
            prefix.ndim != len(shape) + 1
            or prefix.shape[2:] != tuple(shape[1:])
            or prefix.shape[1] > shape[0]
            or prefix.shape[0] not in (1, num_samples)
        ):
            rest = "".join(f", {size}" for size in shape[1:])
            raise ValueError(
                f"`prefix` must be the given {what}, of shape "
                f"(num_samples or 1, {unit} <= {shape[0]}{rest}), got {prefix.shape}"
            )
        return self.validate_values(prefix, "prefix")

    def _generation_state(self, x0, labels, use_cache):
        """Returns the loop state: a dict of tensors (at least "x")."""
        state = {"x": ops.convert_to_tensor(x0, "int32")}
        if labels is not None:
            state["labels"] = ops.convert_to_tensor(labels, "int32")
        return state

    #: Whether the cached path replays the given steps (a prefix) to fill
    #: its caches: the loop then starts at step 0 with
    #: `state["given_steps"] = start`, the steps before it keeping their
    #: values, as they do for the export's per-sample prefix.
    _replays_prefix = False

    def _prepare_loop(self, state, start, use_cache):
        """Returns `(state, start)`; see `_replays_prefix`."""
        if self._replays_prefix and use_cache and start > 0:
            state = {**state, "given_steps": ops.convert_to_tensor(start, "int32")}
            start = 0
        return state, start

    def _generation_step(self, i, state, noise_i, temperature, use_cache):
        raise NotImplementedError

    def _generation_result(self, state):
        return ops.convert_to_numpy(state["x"]).astype("int32")

    def _serving_prefix(self):
        """How the export's `generate_from_prefix` takes given leading
        values, or None (no such signature; `generate` is always there).

        Returns `(name, length_name, steps_per_unit)`: `generate_from_prefix`
        then takes `name`, int `(B, *generated_shape)`, and `length_name`,
        int `(B,)`: the number of leading units of each sample to keep, a
        unit being `steps_per_unit` generation steps (e.g. one image row).
        The export starts the cached loop at step 0 with
        `state["given_steps"]` int `(B,)`; `_generation_step` must keep the
        values already in `x` at the steps `i < given_steps` (while still
        updating its caches with them).
        """
        return None

    # ------------------------------------------------------------------
    # Export
    def export(
        self,
        filepath,
        format="tf_saved_model",
        verbose=None,
        input_signature=None,
        generate_kwargs=None,
        **kwargs,
    ):
        """Exports the model for serving or inference.

        With `format="onnx"` the forward pass goes through
        `keras_ar.onnx.export_onnx` (int32 inputs from the model's spec,
        every family and backend). With `format="tf_saved_model"` (the
        default) this writes a SavedModel
        with three signatures, `serve` (also `serving_default`: the forward
        pass, as Keras exports it), `log_prob` and `generate`, that plain
        TensorFlow and TF Serving run without keras or keras_ar: see
        `keras_ar.export.export_saved_model` for the signatures. It works
        from the TensorFlow and JAX backends; from torch it raises, pointing
        at `python -m keras_ar.export MODEL.keras OUT_DIR`, which exports a
        `.keras` file of any backend.

        Args:
            filepath: the folder to write (for TF Serving, `MODEL_DIR/1`).
            format: "tf_saved_model", or any other format of
                `keras.Model.export` (forwarded to it as is).
            verbose: print the endpoints (default: quiet, for the
                SavedModel and ONNX formats).
            input_signature: only for the formats forwarded to Keras; the
                SavedModel's signatures are fixed by the model.
            generate_kwargs: for the SavedModel, generation arguments fixed
                at export time (e.g. `{"length": 16000}` for a free-length
                WaveNet).
            **kwargs: forwarded to `keras.Model.export` for other formats.
        """
        if format == "tf_saved_model":
            from keras_ar.export.saved_model import export_saved_model

            if input_signature is not None or kwargs:
                raise ValueError(
                    "The tf_saved_model export of a keras_ar model fixes its "
                    "signatures itself; `input_signature` and "
                    f"{sorted(kwargs)} are not accepted (use generate_kwargs)."
                )
            return export_saved_model(
                self, filepath, verbose=verbose, generate_kwargs=generate_kwargs
            )
        if generate_kwargs is not None:
            raise ValueError("`generate_kwargs` applies to format='tf_saved_model' only")
        if format == "onnx":
            from keras_ar.onnx import export_onnx

            if input_signature is not None:
                kwargs["input_signature"] = input_signature
            return export_onnx(self, filepath, verbose=verbose, **kwargs)
        return super().export(
            filepath,
            format=format,
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        )

    # ------------------------------------------------------------------
    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _is_integer_dtype(dtype):
    return keras.backend.standardize_dtype(dtype).startswith(("int", "uint"))


def _is_array_data(data):
    """NumPy arrays, backend tensors, or a dict of them (not a stream)."""
    if isinstance(data, dict):
        return bool(data) and all(
            v is None or _is_array_data(v) for v in data.values()
        )
    return isinstance(data, np.ndarray) or ops.is_tensor(data)


def _size(x):
    return int(np.prod([int(d) for d in x.shape]))


def _min_max(x):
    """`(min, max)` of a concrete array, in one device-to-host transfer."""
    if isinstance(x, np.ndarray):
        return x.min(), x.max()
    pair = ops.stack([ops.min(x), ops.max(x)])
    low, high = ops.convert_to_numpy(pair).tolist()
    return low, high
